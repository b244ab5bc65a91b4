/**
 * The long-running service: one FolderSync per configured folder, a status snapshot in the state
 * directory, optional loopback HTTP endpoint, config reload on demand, orderly shutdown.
 */
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type { Config, FolderConfig } from './config/schema.js';
import { writeFileAtomic } from './state/atomic-write.js';
import { acquireLock, type StateLock } from './state/lock.js';
import { FolderSync } from './sync/folder.js';
import { createMetrics, type SyncMetrics } from './metrics.js';
import { startStatusServer, type StatusServer } from './http.js';
import { STATUS_FILE, type DaemonStatus } from './status.js';
import type { FilesClient } from './api/client.js';
import type { OpOutcome } from './sync/execute.js';
import { ServeHub } from './serve/hub.js';
import { readBearerToken } from './serve/token.js';

const pkg = createRequire(import.meta.url)('../package.json') as { version: string };

export interface DaemonOptions {
  config: Config;
  configPath: string;
  client: FilesClient;
  logger: Logger;
  /** Re-reads the configuration (for SIGHUP); throws ConfigError on a bad file. */
  loadConfig?: () => Promise<Config>;
  /** Overrides config.http.listen. */
  httpListen?: string | null;
  allowMassDelete?: boolean;
  /** How long shutdown waits for in-flight requests. */
  drainMs?: number;
  statusIntervalMs?: number;
  onOutcome?: (folder: string, outcome: OpOutcome) => void;
}

/** The settings every FolderSync reads from the shared config. */
function sharedKey(c: Config): string {
  return JSON.stringify([c.safety, c.watch, c.reconcile]);
}

function folderKey(f: FolderConfig): string {
  return JSON.stringify([f.path, f.include, f.exclude, f.followSymlinks]);
}

/** A running daemon. */
export class Daemon {
  readonly folders = new Map<string, FolderSync>();
  readonly metrics: SyncMetrics;
  private config: Config;
  private lock: StateLock | undefined;
  private http: StatusServer | undefined;
  /** The consumer API (/v1/lookup, /v1/events) and the change log behind it. */
  serve: ServeHub | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private readonly startedAt = new Date();
  private stopped = false;
  private starting: Promise<void> | undefined;
  private reloads: Promise<unknown> = Promise.resolve();
  private statusSoon: NodeJS.Timeout | undefined;
  private statusWrites: Promise<void> = Promise.resolve();

  constructor(private readonly opts: DaemonOptions) {
    this.config = opts.config;
    this.metrics = createMetrics();
  }

  /** The loopback endpoint's URL, when one is running. */
  get httpUrl(): string | undefined {
    return this.http?.url;
  }

  /** Takes the state-dir lock, starts every folder, the status snapshot and the HTTP endpoint. */
  start(): Promise<void> {
    this.starting ??= this.startOnce();
    return this.starting;
  }

  private async startOnce(): Promise<void> {
    this.lock = await acquireLock(this.config.stateDir);
    const listen = this.opts.httpListen !== undefined ? this.opts.httpListen : this.config.http.listen;
    const { tokenFile } = this.config.http;
    this.serve = await ServeHub.open({
      stateDir: this.config.stateDir,
      folders: () => this.folders.values(),
      logger: this.opts.logger,
    });
    if (listen) {
      this.http = await startStatusServer(listen, () => this.status(), this.metrics.registry, {
        api: this.serve,
        token: tokenFile ? await readBearerToken(tokenFile) : undefined,
      });
      this.opts.logger.info({ url: this.http.url }, 'status endpoint listening');
    }
    await Promise.all(this.config.folders.map((f) => this.startFolder(f)));
    this.statusTimer = setInterval(() => void this.writeStatus(), this.opts.statusIntervalMs ?? 2_000);
    this.statusTimer.unref();
    await this.writeStatus();
    this.opts.logger.info({ folders: this.config.folders.map((f) => f.name) }, 'files-sync daemon started');
  }

  private async startFolder(folder: FolderConfig): Promise<void> {
    const fsync = new FolderSync({
      config: this.config,
      folder,
      client: this.opts.client,
      logger: this.opts.logger,
      metrics: this.metrics,
      allowMassDelete: this.opts.allowMassDelete ?? false,
      onStatus: () => {
        this.writeStatusSoon();
        this.serve?.onStatus(fsync.status());
      },
      onOutcome: (name, outcome) => {
        this.opts.onOutcome?.(name, outcome);
        this.serve?.onOutcome(name, outcome);
      },
    });
    this.folders.set(folder.name, fsync);
    await fsync.start();
  }

  /**
   * Re-reads the configuration; folders added, removed or changed are started/stopped. A bad
   * config keeps the old one. Reloads run one at a time (two quick SIGHUPs must not start a folder twice).
   */
  reload(): Promise<boolean> {
    const next = this.reloads.then(() => this.reloadOnce());
    this.reloads = next.catch(() => undefined);
    return next;
  }

  private async reloadOnce(): Promise<boolean> {
    if (!this.opts.loadConfig || this.stopped) return false;
    let next: Config;
    try {
      next = await this.opts.loadConfig();
    } catch (err) {
      this.opts.logger.error(
        { err: (err as Error).message },
        'config reload failed; keeping the running configuration',
      );
      return false;
    }
    if (next.stateDir !== this.config.stateDir) {
      this.opts.logger.warn(
        { from: this.config.stateDir, to: next.stateDir },
        'stateDir changes need a restart; keeping the old one',
      );
      next = { ...next, stateDir: this.config.stateDir };
    }
    // The client and the endpoint were made at start-up: their settings need a restart.
    for (const [name, a, b] of [
      ['api', this.config.api, next.api],
      ['http', this.config.http, next.http],
    ] as const) {
      if (JSON.stringify(a) !== JSON.stringify(b))
        this.opts.logger.warn(
          { section: name },
          `${name}.* changes need a restart; the running values stay in force`,
        );
    }
    // Every folder reads safety, watch and reconcile: a change there restarts them all with it.
    const sharedChanged = sharedKey(next) !== sharedKey(this.config);
    const old = new Map(this.config.folders.map((f) => [f.name, f]));
    const fresh = new Map(next.folders.map((f) => [f.name, f]));
    const changed = (f: FolderConfig, other: FolderConfig | undefined) =>
      sharedChanged || other === undefined || folderKey(other) !== folderKey(f);
    const toStop = [...old.values()].filter((f) => changed(f, fresh.get(f.name)));
    const toStart = [...fresh.values()].filter((f) => changed(f, old.get(f.name)));
    this.config = next;
    for (const f of toStop) {
      await this.folders.get(f.name)?.stop(this.opts.drainMs ?? 10_000);
      this.folders.delete(f.name);
    }
    const failed: string[] = [];
    for (const f of toStart) {
      try {
        await this.startFolder(f);
      } catch (err) {
        // One folder that cannot start (corrupt manifest, ...) must not take the others down.
        failed.push(f.name);
        this.folders.delete(f.name);
        this.opts.logger.error(
          { folder: f.name, err: (err as Error).message },
          'folder could not be started after reload',
        );
      }
    }
    this.opts.logger.info(
      {
        stopped: toStop.map((f) => f.name),
        started: toStart.map((f) => f.name).filter((n) => !failed.includes(n)),
        ...(failed.length > 0 ? { failed } : {}),
      },
      'configuration reloaded',
    );
    await this.writeStatus();
    return true;
  }

  /** The current status of the daemon and every folder. */
  status(): DaemonStatus {
    return {
      pid: process.pid,
      startedAt: this.startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      version: pkg.version,
      configPath: this.opts.configPath,
      updatedAt: new Date().toISOString(),
      folders: [...this.folders.values()].map((f) => f.status()),
    };
  }

  /** Writes the snapshot shortly after a folder's status changed (at most every 250 ms), so `status` is not a period behind. */
  private writeStatusSoon(): void {
    if (this.statusSoon !== undefined || this.stopped) return;
    this.statusSoon = setTimeout(() => {
      this.statusSoon = undefined;
      void this.writeStatus();
    }, 250);
    this.statusSoon.unref();
  }

  // Writes run one after another, so an older snapshot never replaces a newer one; the status is taken when each starts.
  private writeStatus(): Promise<void> {
    this.statusWrites = this.statusWrites.then(() => this.writeStatusOnce());
    return this.statusWrites;
  }

  private async writeStatusOnce(): Promise<void> {
    const file = path.join(this.config.stateDir, STATUS_FILE);
    try {
      await writeFileAtomic(file, `${JSON.stringify(this.status(), null, 2)}\n`);
    } catch (err) {
      this.opts.logger.debug({ err: (err as Error).message }, 'could not write status snapshot');
    }
  }

  /** Waits until every folder has no queued work (tests). */
  async idle(): Promise<void> {
    await Promise.all([...this.folders.values()].map((f) => f.idle()));
  }

  /** Stops watching, drains in-flight work (bounded), flushes manifests, releases the lock. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // A stop during start waits for it, so that nothing started afterwards is left running.
    await this.starting?.catch(() => undefined);
    await this.reloads;
    if (this.statusTimer) clearInterval(this.statusTimer);
    if (this.statusSoon) clearTimeout(this.statusSoon);
    await Promise.all([...this.folders.values()].map((f) => f.stop(this.opts.drainMs ?? 10_000)));
    await this.writeStatus();
    await this.http?.close();
    await this.serve?.close();
    await this.opts.client.close();
    await this.lock?.release();
    this.opts.logger.info('files-sync daemon stopped');
  }
}
