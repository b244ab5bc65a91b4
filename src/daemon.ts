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
import { STATUS_FILE, healthOf, type ApiStatus, type DaemonStatus } from './status.js';
import type { FilesClient } from './api/client.js';
import type { ApiHealthSnapshot } from './api/breaker.js';
import type { OpOutcome } from './sync/execute.js';
import { applyLogLevel } from './log.js';
import {
  newControlToken,
  removeControlRecord,
  UnknownFolderError,
  writeControlRecord,
  type ReleaseResult,
} from './control.js';
import { ServeHub } from './serve/hub.js';
import { readBearerToken } from './serve/token.js';
import { collectGarbageWhenQuiet } from './util/collect-garbage.js';

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

/** The settings every FolderSync reads from the shared config (its executor reads api.concurrency). */
function sharedKey(c: Config): string {
  return JSON.stringify([c.safety, c.watch, c.reconcile, c.api.concurrency]);
}

function folderKey(f: FolderConfig): string {
  // The workspace and expiry pick the folder's client view: a change restarts it (and a new
  // workspace makes it start over there, see openFolderSession).
  return JSON.stringify([f.path, f.include, f.exclude, f.followSymlinks, f.workspaceId, f.expiresInSeconds]);
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
  private probeTimer: NodeJS.Timeout | undefined;
  private quotaTimer: NodeJS.Timeout | undefined;
  private unsubscribeHealth: (() => void) | undefined;
  /** What was last logged about the API, so each change is logged once. */
  private loggedApi = { breaker: '', quota: false };

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
      // A PostgreSQL store keeps the change history for other hosts (files_sync.events).
      onChange: (change) => this.folders.get(change.folder)?.recordChange(change),
    });
    if (listen) {
      const control = {
        token: newControlToken(),
        releaseDeletes: (names?: string[]) => this.releaseDeletes(names),
      };
      this.http = await startStatusServer(listen, () => this.status(), this.metrics.registry, {
        api: this.serve,
        token: tokenFile ? await readBearerToken(tokenFile) : undefined,
        control,
      });
      await writeControlRecord(this.config.stateDir, {
        pid: process.pid,
        url: this.http.url,
        token: control.token,
      });
      this.opts.logger.info({ url: this.http.url }, 'status endpoint listening');
    }
    this.unsubscribeHealth = this.opts.client.health.onChange((h) => this.onApiHealth(h));
    await Promise.all(this.config.folders.map((f) => this.startFolder(f)));
    this.onApiHealth(this.opts.client.health.snapshot());
    this.statusTimer = setInterval(() => void this.writeStatus(), this.opts.statusIntervalMs ?? 2_000);
    this.statusTimer.unref();
    await this.writeStatus();
    this.opts.logger.info({ folders: this.config.folders.map((f) => f.name) }, 'files-sync daemon started');
    // Start-up (config, modules, watchers) grew the heap; what follows is mostly idling (~10 MB
    // less idle RSS for a small folder). A large start-up pass still running asks again when done.
    collectGarbageWhenQuiet();
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
      health: this.opts.client.health,
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
    // The client and the endpoint were made at start-up: their settings need a restart
    // (api.concurrency does not: the folders are restarted with it, see sharedKey).
    for (const [name, a, b] of [
      ['api', { ...this.config.api, concurrency: 0 }, { ...next.api, concurrency: 0 }],
      ['http', this.config.http, next.http],
    ] as const) {
      if (JSON.stringify(a) !== JSON.stringify(b))
        this.opts.logger.warn(
          { section: name },
          `${name}.* changes need a restart${name === 'api' ? ' (api.concurrency excepted)' : ''}; the running values stay in force`,
        );
    }
    if (next.log.level !== this.config.log.level) applyLogLevel(this.opts.logger, next.log.level);
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

  /** Reconciles the named folders (all when undefined) once with the delete guards off. */
  async releaseDeletes(names?: string[]): Promise<ReleaseResult[]> {
    const unknown = (names ?? []).filter((n) => !this.folders.has(n));
    if (unknown.length > 0) throw new UnknownFolderError(`no folder named ${unknown.join(', ')} is running`);
    const chosen = [...this.folders.values()].filter((f) => names === undefined || names.includes(f.name));
    return Promise.all(chosen.map((f) => f.releaseDeletes()));
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
      api: this.apiStatus(),
    };
  }

  private apiStatus(): ApiStatus {
    const h = this.opts.client.health.snapshot();
    const api: ApiStatus = { state: h.breaker === 'closed' ? 'ok' : 'degraded' };
    if (h.breaker !== 'closed' && h.cause) {
      api.reason = h.cause.message;
      api.since = h.cause.since;
      if (h.nextProbeAt !== undefined) api.nextProbeAt = h.nextProbeAt;
    }
    if (h.quota)
      api.uploadsPaused = { reason: h.quota.message, since: h.quota.since, retryAt: h.quota.retryAt };
    return api;
  }

  /**
   * The breaker or the quota pause changed: log it once per change, probe while the breaker is
   * open (nothing else is sent), and once it closes, reconcile every folder to catch up.
   */
  private onApiHealth(h: ApiHealthSnapshot): void {
    if (this.stopped) return;
    const log = this.opts.logger;
    const breaker = h.breaker === 'closed' ? 'closed' : (h.cause?.message ?? 'open');
    if (breaker !== this.loggedApi.breaker) {
      if (breaker === 'closed') {
        if (this.loggedApi.breaker !== '') {
          log.info('the Files API answers again; resuming (reconciling every folder)');
          for (const f of this.folders.values()) f.resume('API back');
        }
      } else {
        log.error(
          { reason: breaker, failures: h.cause?.failures, nextProbeAt: h.nextProbeAt },
          'Files API degraded: requests stopped, probing until it answers',
        );
      }
      this.loggedApi.breaker = breaker;
    }
    if (h.breaker !== 'closed') this.scheduleProbe();
    const paused = h.quota !== undefined;
    if (paused !== this.loggedApi.quota) {
      if (paused)
        log.error(
          { reason: h.quota?.message, retryAt: h.quota?.retryAt },
          'uploads paused: storage quota exceeded',
        );
      else log.info('uploads resumed: the storage quota has room again');
      this.loggedApi.quota = paused;
    }
    if (paused) this.scheduleQuotaRetry();
    this.metrics.breakerOpen.set(h.breaker === 'closed' ? 0 : 1);
    this.metrics.uploadsPaused.set(paused ? 1 : 0);
    this.writeStatusSoon();
  }

  /** One cheap request (a one-file listing) once the breaker lets a probe through. */
  private scheduleProbe(): void {
    if (this.probeTimer !== undefined || this.stopped) return;
    const health = this.opts.client.health;
    this.probeTimer = setTimeout(() => {
      void this.opts.client
        .list({ limit: 1 })
        .catch(() => undefined)
        .finally(() => {
          this.probeTimer = undefined;
          if (health.degraded) this.scheduleProbe();
          this.writeStatusSoon();
        });
    }, health.msUntilProbe() + 50);
    this.probeTimer.unref();
  }

  /** Uploads paused for the quota are tried again (by a reconciliation) when the pause runs out. */
  private scheduleQuotaRetry(): void {
    if (this.quotaTimer !== undefined || this.stopped) return;
    this.quotaTimer = setTimeout(() => {
      this.quotaTimer = undefined;
      if (!this.opts.client.health.snapshot().quota) return;
      this.opts.logger.info('retrying uploads paused by the storage quota');
      for (const f of this.folders.values()) f.resume('storage quota retry');
    }, this.opts.client.health.msUntilUploadRetry() + 50);
    this.quotaTimer.unref();
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
      const status = this.status();
      this.metrics.degraded.set(healthOf(status).ok ? 0 : 1);
      await writeFileAtomic(file, `${JSON.stringify(status, null, 2)}\n`);
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
    if (this.probeTimer) clearTimeout(this.probeTimer);
    if (this.quotaTimer) clearTimeout(this.quotaTimer);
    this.unsubscribeHealth?.();
    await Promise.all([...this.folders.values()].map((f) => f.stop(this.opts.drainMs ?? 10_000)));
    await this.writeStatus();
    if (this.http) await removeControlRecord(this.config.stateDir).catch(() => undefined);
    await this.http?.close();
    await this.serve?.close();
    await this.opts.client.close();
    await this.lock?.release();
    this.opts.logger.info('files-sync daemon stopped');
  }
}
