/**
 * One folder's live loop: watcher events are debounced per path, checked (lstat, hash only when
 * the stat changed), planned and executed in batches; a full reconciliation runs at start and on
 * a timer to repair whatever the watcher missed. Jobs of one folder run one at a time.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config, FolderConfig } from '../config/schema.js';
import type { FolderStatus } from '../status.js';
import type { LocalEntry, ManifestEntry } from '../types.js';
import type { SyncMetrics } from '../metrics.js';
import { statEntry } from '../local/scan.js';
import { hashFile } from '../local/hash.js';
import { createWatcher, listDir, type FolderWatcher, type WatchEvent } from '../local/watch.js';
import { createPathDebouncer, type PathDebouncer } from '../local/debounce.js';
import { needsHash, planSync, type SyncOp } from './plan.js';
import { guardDeletes } from './safety.js';
import { mapLimit } from './map-limit.js';
import { manifestLookup, openFolderSession, reconcileSession, type FolderSession } from './session.js';
import type { ExecutorClient, ExecutorEvent, OpOutcome } from './execute.js';
import type { RemoteLister } from './reconcile.js';

/** How soon a reconciliation follows when a path waits on an unresolved upload intent. */
const INTENT_RECONCILE_DELAY_MS = 2_000;
/** Retry backoff for a path whose operation failed: 2 s doubling to 5 min. */
const RETRY_BASE_MS = 2_000;
const RETRY_MAX_MS = 5 * 60_000;
/**
 * How long a watcher job waits for more paths before it starts. The debouncer releases paths one
 * quiet period at a time, so a burst arrives as many small flushes; each job writes the manifest
 * at least once (its upload intents), so gathering them keeps writes batched.
 */
const GATHER_MS = 100;
/** Reconciliation period of a folder whose watcher failed while periodic reconciliation is off. */
const FALLBACK_RECONCILE_MS = 5 * 60_000;
/** Paths stat'ed and hashed at once by a watcher batch: a burst of 100k events must not open 100k files. */
const CHECK_CONCURRENCY = 16;
/** Skip reasons worth a warning: the user expects these files to sync and they do not. */
const REPORTED_SKIPS = new Set([
  'special',
  'unreadable',
  'too-large',
  'symlink-loop',
  'refused-by-api',
  'changed-or-unreadable',
  'invalid-name',
]);

export interface FolderSyncOptions {
  config: Config;
  folder: FolderConfig;
  client: ExecutorClient & RemoteLister;
  logger: Logger;
  metrics?: SyncMetrics;
  allowMassDelete?: boolean;
  /** Called whenever the folder's status changes meaningfully. */
  onStatus?: () => void;
  /** Called with every finished operation (the demo narrates them). */
  onOutcome?: (folder: string, outcome: OpOutcome) => void;
  /** The watcher factory; tests inject failing watchers. */
  createWatcher?: typeof createWatcher;
  /** Reconciliation period once the watcher failed and `reconcile.intervalMs` is 0; default 5 min. */
  fallbackReconcileMs?: number;
}

/**
 * Tracked paths outside `scope` that a new local path may have been renamed from: same content
 * and same basename (what the planner needs for a move). Only new paths (not in the manifest) count.
 */
export function moveSources(
  local: ReadonlyMap<string, LocalEntry>,
  manifest: Iterable<[string, ManifestEntry]>,
  scope: ReadonlySet<string>,
  isTracked: (p: string) => boolean = () => false,
): string[] {
  const wanted = new Set<string>();
  for (const l of local.values()) {
    if (l.sha256 !== undefined && !isTracked(l.path))
      wanted.add(`${l.sha256}\0${path.posix.basename(l.path)}`);
  }
  if (wanted.size === 0) return [];
  const out: string[] = [];
  for (const [p, e] of manifest) {
    if (!scope.has(p) && wanted.has(`${e.sha256}\0${path.posix.basename(p)}`)) out.push(p);
  }
  return out;
}

function isWithin(p: string, dir: string): boolean {
  return dir === '' || p === dir || p.startsWith(`${dir}/`);
}

/** One configured folder kept in sync while the daemon runs. */
export class FolderSync {
  private session: FolderSession | undefined;
  private watcher: FolderWatcher | undefined;
  private debouncer: PathDebouncer | undefined;
  private reconcileTimer: NodeJS.Timeout | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private chain: Promise<void> = Promise.resolve();
  private queuedPaths = new Set<string>();
  private reconcileQueued = false;
  private jobsQueued = 0;
  private stopping = false;
  private readonly abort = new AbortController();
  private readonly firstSeen = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private readonly reportedSkips = new Map<string, string>();
  private mode: FolderStatus['mode'] = 'starting';
  private held = 0;
  private heldReason: string | undefined;
  private lastReconcile: FolderStatus['lastReconcile'];
  private lastError: FolderStatus['lastError'];
  private readonly log: Logger;

  constructor(private readonly opts: FolderSyncOptions) {
    this.log = opts.logger.child({ folder: opts.folder.name });
  }

  get name(): string {
    return this.opts.folder.name;
  }

  /** Opens the manifest, reconciles once (if configured), then starts watching and the timer. */
  async start(): Promise<void> {
    const { config, folder } = this.opts;
    this.session = await openFolderSession(config, folder, this.opts.client, this.opts.logger, {
      signal: this.abort.signal,
      onEvent: (e) => this.onExecutorEvent(e),
    });
    if (config.reconcile.onStart) this.requestReconcile('startup');
    if (config.watch.enabled) await this.startWatcher();
    else this.mode = 'reconcile-only';
    if (config.reconcile.intervalMs > 0) {
      this.reconcileTimer = setInterval(() => this.requestReconcile('timer'), config.reconcile.intervalMs);
      this.reconcileTimer.unref();
    }
    this.opts.onStatus?.();
  }

  private async startWatcher(): Promise<void> {
    const { config } = this.opts;
    this.debouncer = createPathDebouncer({
      quietMs: config.watch.debounceMs,
      maxDelayMs: Math.max(config.watch.debounceMs * 10, 10_000),
      onFlush: (paths) => this.enqueuePaths(paths),
    });
    try {
      this.watcher = this.newWatcher();
      await this.watcher.ready();
      if (this.mode === 'starting') this.mode = 'watching';
    } catch (err) {
      this.onWatchError(err as Error);
    }
  }

  private newWatcher(): FolderWatcher {
    const { config, folder } = this.opts;
    const w: FolderWatcher = (this.opts.createWatcher ?? createWatcher)(config.watch.backend, {
      root: folder.path,
      filter: this.session!.filter,
      followSymlinks: folder.followSymlinks,
      logger: this.log,
      onEvents: (events) => this.onWatchEvents(events),
      onError: (err) => this.onWatchError(err),
    });
    return w;
  }

  private onWatchError(err: Error & { code?: string }): void {
    if (err.name === 'WatchLimitError' || err.code === 'ENOSPC') {
      if (this.mode !== 'reconcile-only') {
        this.log.error(
          { err: err.message },
          'watcher unavailable; this folder falls back to periodic reconciliation only',
        );
        this.mode = 'reconcile-only';
        this.recordError(err.message);
        void this.watcher?.close().catch(() => undefined);
        this.watcher = undefined;
        this.debouncer?.flushNow();
        // Events may have been lost before the watcher died, and with periodic reconciliation off
        // nothing would ever look at this folder again: reconcile now and on a fallback timer.
        if (!this.stopping) {
          this.requestReconcile('watcher failed');
          if (this.reconcileTimer === undefined && this.opts.config.reconcile.intervalMs === 0) {
            const every = this.opts.fallbackReconcileMs ?? FALLBACK_RECONCILE_MS;
            this.reconcileTimer = setInterval(() => this.requestReconcile('timer (watcher failed)'), every);
            this.reconcileTimer.unref();
          }
        }
      }
      return;
    }
    this.log.warn({ err: err.message, code: err.code }, 'watcher error');
  }

  private onWatchEvents(events: WatchEvent[]): void {
    if (this.stopping) return;
    const now = Date.now();
    for (const ev of events) {
      if (ev.type === 'dir') {
        // chokidar misses files created right after their directory: list it ourselves.
        void listDir(this.opts.folder.path, ev.path, this.session!.filter, {
          followSymlinks: this.opts.folder.followSymlinks,
        })
          .then((paths) => {
            for (const p of paths) this.touch(p, now);
          })
          .catch((err: Error) =>
            this.log.debug({ dir: ev.path, err: err.message }, 'could not list new directory'),
          );
      } else if (ev.type === 'unlink-dir') {
        for (const p of this.session!.manifest.paths()) if (isWithin(p, ev.path)) this.touch(p, now);
      } else {
        this.touch(ev.path, now);
      }
    }
  }

  private touch(relPath: string, at = Date.now()): void {
    if (!this.firstSeen.has(relPath)) this.firstSeen.set(relPath, at);
    if (this.debouncer) this.debouncer.touch(relPath);
    else this.enqueuePaths([relPath]);
    this.updateQueueGauge();
  }

  /** Queues paths for a check-plan-execute job (coalesced with any job already waiting). */
  enqueuePaths(paths: readonly string[]): void {
    if (this.stopping) return;
    const wasEmpty = this.queuedPaths.size === 0;
    for (const p of paths) this.queuedPaths.add(p);
    if (wasEmpty && this.queuedPaths.size > 0) {
      const gather = Math.min(GATHER_MS, this.opts.config.watch.debounceMs);
      this.schedule(async () => {
        if (gather > 0) await new Promise((resolve) => setTimeout(resolve, gather));
        if (!this.stopping) await this.processQueuedPaths();
      });
    }
    this.updateQueueGauge();
  }

  /** Queues a full reconciliation (coalesced: at most one waits). */
  requestReconcile(reason: string): void {
    if (this.stopping || this.reconcileQueued) return;
    this.reconcileQueued = true;
    this.log.debug({ reason }, 'reconciliation queued');
    this.schedule(async () => {
      this.reconcileQueued = false;
      await this.reconcile(reason);
    });
  }

  private schedule(job: () => Promise<void>): void {
    this.jobsQueued++;
    this.chain = this.chain.then(async () => {
      try {
        if (!this.stopping) await job();
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'sync job failed');
        this.recordError((err as Error).message);
      } finally {
        this.jobsQueued--;
        this.opts.onStatus?.();
      }
    });
  }

  /** Resolves once every queued job (and any it triggered synchronously) has run. For tests and shutdown. */
  async idle(): Promise<void> {
    let seen: Promise<void> | undefined;
    while (seen !== this.chain) {
      seen = this.chain;
      await seen;
    }
  }

  private async reconcile(reason: string): Promise<void> {
    const session = this.session!;
    const started = Date.now();
    const report = await reconcileSession(session, this.opts.config, this.opts.client, {
      allowMassDelete: this.opts.allowMassDelete ?? false,
      signal: this.abort.signal,
    });
    this.held = report.heldDeletes;
    this.heldReason = report.heldReason;
    this.lastReconcile = {
      at: new Date().toISOString(),
      result:
        report.status === 'ok'
          ? 'ok'
          : report.status === 'unavailable'
            ? `unavailable: ${report.error ?? ''}`
            : `${report.failed.length} failed`,
      durationMs: report.durationMs,
      uploaded: report.uploaded,
      replaced: report.replaced,
      deleted: report.deleted,
      failed: report.failed.length,
    };
    if (report.status === 'unavailable') {
      this.mode = 'unavailable';
      this.recordError(report.error ?? 'folder unavailable');
    } else if (this.mode === 'unavailable') {
      this.mode = this.watcher ? 'watching' : this.opts.config.watch.enabled ? 'watching' : 'reconcile-only';
      if (this.opts.config.watch.enabled && !this.watcher) await this.startWatcher();
    }
    for (const f of report.failed) this.recordError(f.error, f.path);
    for (const s of report.skipped) this.reportSkipped(s.path, s.reason, s.detail);
    this.opts.metrics?.reconcileSeconds.observe({ folder: this.name }, (Date.now() - started) / 1000);
    this.opts.metrics?.heldDeletes.set({ folder: this.name }, this.held);
    this.log.info(
      {
        reason,
        uploaded: report.uploaded,
        replaced: report.replaced,
        deleted: report.deleted,
        moved: report.moved,
        unchanged: report.unchanged,
        hashed: report.hashed,
        failed: report.failed.length,
        held: report.heldDeletes,
        unmanagedRemote: report.unmanagedRemote,
        durationMs: report.durationMs,
      },
      'reconciliation done',
    );
    // Paths the executor could not finish are looked at again by the watcher path with backoff.
    for (const f of report.failed) this.retryLater(f.path);
  }

  private async processQueuedPaths(): Promise<void> {
    const session = this.session!;
    const paths = [...this.queuedPaths];
    this.queuedPaths.clear();
    if (paths.length === 0) return;
    const root = this.opts.folder.path;

    // A vanished root must not turn into "delete everything".
    const rootOk = await fs.stat(root).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!rootOk) {
      this.mode = 'unavailable';
      this.recordError(`folder root ${root} is missing or not a directory`);
      this.log.error({ root }, 'folder root unavailable; holding all changes until it is back');
      // Looked at again with backoff, so nothing is lost when the root comes back (even with no timer).
      for (const p of paths) this.retryLater(p);
      return;
    }

    const local = new Map<string, LocalEntry>();
    const unreadable = new Set<string>();
    const scope = paths.filter((p) => session.filter.matchesFile(p));
    await mapLimit(scope, CHECK_CONCURRENCY, (p) => this.checkPath(p, local, unreadable));
    // A rename shows up as two events that may fall into different batches; when a new path has
    // the content and basename of a tracked path, look at that path too so the plan can pair
    // them into a move (no upload) if it is gone.
    const sources = moveSources(local, session.manifest.entries(), new Set(scope), (p) =>
      session.manifest.has(p),
    );
    await mapLimit(sources, CHECK_CONCURRENCY, (p) => this.checkPath(p, local, unreadable));
    scope.push(...sources);

    const plan = planSync({
      local,
      manifest: {
        entries: manifestLookup(session.manifest),
        pendingUploads: session.manifest.pendingUploads(),
        pendingDeletes: session.manifest.pendingDeletes(),
      },
      scope,
      unreadable,
      inFlight: session.executor.inFlight(),
    });
    for (const s of plan.skipped) {
      if (s.reason === 'pending-intent')
        this.scheduleSoon(() => this.requestReconcile('pending intent'), INTENT_RECONCILE_DELAY_MS);
      else if (s.reason === 'too-large')
        this.log.warn({ path: s.path, detail: s.detail }, 'file over the API limit of 500 MB; skipped');
    }
    const verdict = guardDeletes({
      ops: plan.ops,
      trackedCount: session.manifest.size,
      limits: this.opts.config.safety,
      allowMassDelete: this.opts.allowMassDelete ?? false,
    });
    if (verdict.held.length > 0) {
      this.held = verdict.held.length;
      this.heldReason = verdict.reason;
      this.opts.metrics?.heldDeletes.set({ folder: this.name }, this.held);
      this.log.warn(
        { held: verdict.held.length, reason: verdict.reason },
        'deletes held by the safety guard',
      );
    }
    if (verdict.allowed.length === 0) {
      for (const p of paths) if (!this.queuedPaths.has(p)) this.firstSeen.delete(p);
      return;
    }
    const result = await session.executor.run(verdict.allowed);
    for (const o of result.outcomes) this.afterOutcome(o);
    for (const p of result.retryLater) this.retryLater(p);
  }

  /** Stats one path (hashing it when its stat differs from the manifest) into `local`, or marks it unreadable. */
  private async checkPath(p: string, local: Map<string, LocalEntry>, unreadable: Set<string>): Promise<void> {
    const session = this.session!;
    const root = this.opts.folder.path;
    try {
      const st = await statEntry(root, p, { followSymlinks: this.opts.folder.followSymlinks });
      if (st === null) return; // gone
      if (!('mtimeMs' in st)) {
        unreadable.add(p); // symlink, special file, unreadable: never treated as removed
        this.reportSkipped(p, st.reason, st.detail);
        return;
      }
      const entry = session.manifest.get(p);
      if (needsHash(st, entry)) {
        const h = await hashFile(path.join(root, ...p.split('/')), {
          expected: { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino },
        });
        local.set(p, { ...st, sha256: h.sha256 });
      } else {
        local.set(p, st);
      }
      this.reportedSkips.delete(p);
    } catch (err) {
      unreadable.add(p);
      this.log.debug({ path: p, err: (err as Error).message }, 'changed while checking; will look again');
      this.retryLater(p);
    }
  }

  /** Warns once about a file that cannot be synced (until its reason changes), so it is never silently missing. */
  private reportSkipped(p: string, reason: string, detail?: string): void {
    if (!REPORTED_SKIPS.has(reason) || this.reportedSkips.get(p) === reason) return;
    this.reportedSkips.set(p, reason);
    this.log.warn({ path: p, reason, ...(detail !== undefined ? { detail } : {}) }, 'file not synced');
    this.recordError(`not synced (${reason}${detail !== undefined ? `: ${detail}` : ''})`, p);
  }

  private afterOutcome(o: OpOutcome): void {
    const paths = o.op.kind === 'move' ? [o.op.to] : o.op.kind === 'delete-done' ? [] : [o.op.path];
    for (const p of paths) {
      if (o.status === 'done' || o.status === 'refused') {
        this.failures.delete(p);
        const first = this.firstSeen.get(p);
        if (first !== undefined && !this.queuedPaths.has(p)) {
          this.firstSeen.delete(p);
          if (
            o.status === 'done' &&
            (o.op.kind === 'upload' || o.op.kind === 'replace' || o.op.kind === 'reupload')
          ) {
            this.opts.metrics?.changeToUploadSeconds.observe(
              { folder: this.name },
              (Date.now() - first) / 1000,
            );
          }
        }
      }
    }
  }

  private onExecutorEvent(e: ExecutorEvent): void {
    const m = this.opts.metrics;
    if (e.type === 'op-end' && e.outcome) this.opts.onOutcome?.(this.name, e.outcome);
    if (!m || e.type !== 'op-end' || !e.outcome) return;
    const { op, outcome } = { op: e.op, outcome: e.outcome };
    if (outcome.status === 'done') {
      if (op.kind === 'upload' || op.kind === 'replace' || op.kind === 'reupload' || op.kind === 'adopt') {
        m.uploads.inc({ folder: this.name, kind: op.kind });
        if (op.kind !== 'adopt') m.uploadBytes.inc({ folder: this.name }, op.local.size);
      }
      if (op.kind === 'delete' || op.kind === 'discard' || op.kind === 'replace')
        m.deletes.inc({ folder: this.name });
    } else if (outcome.status === 'failed' || outcome.status === 'ambiguous') {
      m.failures.inc({ folder: this.name, kind: op.kind });
      const p = op.kind === 'move' ? op.to : op.kind === 'delete-done' ? undefined : op.path;
      this.recordError(outcome.error ?? outcome.status, p);
    }
    m.filesTracked.set({ folder: this.name }, this.session?.manifest.size ?? 0);
  }

  private retryLater(relPath: string): void {
    if (this.stopping) return;
    const n = (this.failures.get(relPath) ?? 0) + 1;
    this.failures.set(relPath, n);
    const delay = Math.min(RETRY_BASE_MS * 2 ** (n - 1), RETRY_MAX_MS);
    this.scheduleSoon(() => this.enqueuePaths([relPath]), delay);
  }

  private scheduleSoon(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  private recordError(message: string, p?: string): void {
    this.lastError = { at: new Date().toISOString(), message, ...(p !== undefined ? { path: p } : {}) };
  }

  private updateQueueGauge(): void {
    this.opts.metrics?.queueDepth.set({ folder: this.name }, this.queueDepth());
  }

  private queueDepth(): number {
    return (
      (this.debouncer?.pending() ?? 0) + this.queuedPaths.size + (this.session?.executor.inFlightCount() ?? 0)
    );
  }

  /** A snapshot for `files-sync status` and /status. */
  status(): FolderStatus {
    const m = this.session?.manifest;
    const s: FolderStatus = {
      name: this.name,
      root: this.opts.folder.path,
      mode: this.mode,
      filesTracked: m?.size ?? 0,
      pendingUploads: m?.pendingUploads().length ?? 0,
      pendingDeletes: m?.pendingDeletes().length ?? 0,
      heldDeletes: this.held,
      queueDepth: this.queueDepth(),
    };
    if (this.heldReason && this.held > 0) s.heldReason = this.heldReason;
    if (this.lastReconcile) s.lastReconcile = this.lastReconcile;
    if (this.lastError) s.lastError = this.lastError;
    if (this.watcher) s.watchedPaths = this.watcher.watchedCount();
    return s;
  }

  /** Stops watching, lets running work finish for up to `drainMs`, then aborts it and flushes the manifest. */
  async stop(drainMs = 10_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.debouncer?.close();
    await this.watcher?.close().catch(() => undefined);
    const drained = await Promise.race([
      this.idle().then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), drainMs).unref()),
    ]);
    if (!drained) {
      this.log.warn(
        { drainMs },
        'in-flight work did not finish in time; aborting it (pending intents resolve at next start)',
      );
      this.abort.abort();
      await this.idle().catch(() => undefined);
    }
    this.mode = 'stopped';
    await this.session?.close();
  }

  /** Runs the next full reconciliation now and waits for it (tests, `--once`). */
  async reconcileNow(): Promise<void> {
    this.requestReconcile('requested');
    await this.idle();
  }

  /** Completed manifest writes since this folder started (tests check that writes are batched). */
  get manifestWrites(): number {
    return this.session?.manifest.writeCount ?? 0;
  }

  /** Operations waiting or running (for tests). */
  pendingWork(): number {
    return this.jobsQueued + this.queueDepth();
  }
}

export type { SyncOp };
