/**
 * One folder's live loop, scheduling only: watcher events are debounced per path and gathered
 * into batches; a batch, or a full reconciliation (at start, on a timer, after the watcher
 * failed), runs as one sync pass (pass.ts). Jobs of one folder run one at a time. What the folder
 * shows to others is kept by its FolderStatusTracker.
 *
 * With the PostgreSQL backend a folder runs only while this daemon holds its lease. A run ends
 * when the lease is lost or the database cannot be reached: the watcher stops, work in flight is
 * aborted and the state is dropped unwritten (the database keeps the truth: an upload whose intent
 * is there is resolved by whoever runs next). The folder then stands by (or pauses) and tries to
 * take the lease again; a new run starts with a reconciliation.
 */
import path from 'node:path';
import type { StateChangeEvent } from '../state/postgres/store.js';
import type { Logger } from 'pino';
import type { Config, FolderConfig } from '../config/schema.js';
import type { FolderStatus } from '../status.js';
import type { SyncMetrics } from '../metrics.js';
import { createWatcher, listDir, type FolderWatcher, type WatchEvent } from '../local/watch.js';
import { datedBatch } from '../local/watch-batch.js';
import { createPathDebouncer, type PathDebouncer } from '../local/debounce.js';
import type { PathFilter } from '../local/filter.js';
import { errorCode, errorMessage } from '../errors.js';
import { KeyedQueue } from '../util/keyed-queue.js';
import { addToList } from '../util/list-map.js';
import {
  cancelHeadStart,
  folderFilter,
  folderScanRequest,
  openFolderSession,
  passContext,
  reconcileSession,
  type FolderSession,
} from './session.js';
import { startThreadScan, type PendingScan } from '../local/scan-thread.js';
import { runPass, type RemoteLister } from './pass.js';
import { isUploadOp, opPath } from './ops.js';
import { FolderStatusTracker } from './folder-status.js';
import { RetryTimers } from './retry-timers.js';
import type { DrainResult, ExecutorClient, ExecutorEvent, OpOutcome } from './execute.js';
import type { ApiHealth } from '../api/breaker.js';
import { failureReason } from './not-mirrored.js';
import { checkRoot, type RootCheck } from './root-check.js';
import type { ReconcileReport } from './reconcile.js';
import { releaseResult, type ReleaseResult } from '../control.js';
import type { LookupFolder } from '../serve/lookup.js';
import { LeaseHeldError, PgConnectionError, type LeaseLostError } from '../state/postgres/errors.js';
import {
  FolderLeaseWatch,
  PAUSED_RETRY_MAX_MS,
  STANDBY_RETRY_MS,
  type LeaseRetryTimings,
} from './folder-lease.js';

/** How soon a reconciliation follows when a path waits on an unresolved upload intent. */
const INTENT_RECONCILE_DELAY_MS = 2_000;
/** Retry backoff for a path whose operation failed: 2 s doubling to 5 min. */
const RETRY_BASE_MS = 2_000;
const RETRY_MAX_MS = 5 * 60_000;
/**
 * A watcher job starts on the next turn of the event loop after its first path, not after a
 * timed gather: paths due together are flushed together (parcel delivers a burst as one batch),
 * and whatever arrives while a job runs waits in queuedPaths and goes in the next one. A 10 ms
 * gather (100 ms while each job rewrote the whole manifest) was a fifth of a change's latency
 * above the quiet period, and folded nothing the queue does not fold anyway.
 */
/** Reconciliation period of a folder whose watcher failed while periodic reconciliation is off. */
const FALLBACK_RECONCILE_MS = 5 * 60_000;
/** How often a watched folder's root is stat'ed: a root renamed away kills watchers silently. */
const ROOT_CHECK_MS = 1_000;
/**
 * Watcher events kept while the walk ahead runs (walkAhead); past this many (a big copy under
 * way as the daemon starts), the walk ahead is dropped and the reconciliation walks after the
 * run starts, as it does without one.
 */
const MAX_HEARD_AHEAD = 50_000;
/** The one key of the folder's job queue: every job waits for the one before. */
const JOBS = ['jobs'];

export interface FolderSyncOptions {
  config: Config;
  folder: FolderConfig;
  client: ExecutorClient & RemoteLister;
  logger: Logger;
  metrics?: SyncMetrics | undefined;
  allowMassDelete?: boolean | undefined;
  /** Called whenever the folder's status changes meaningfully. */
  onStatus?: (() => void) | undefined;
  /** Called with every finished operation (the demo narrates them). */
  onOutcome?: ((folder: string, outcome: OpOutcome) => void) | undefined;
  /** The watcher factory; tests inject failing watchers. */
  createWatcher?: typeof createWatcher | undefined;
  /** Lists a directory the watcher reports as new; tests slow it down. */
  listNewDirectory?: typeof listDir | undefined;
  /** Reconciliation period once the watcher failed and `reconcile.intervalMs` is 0; default 5 min. */
  fallbackReconcileMs?: number | undefined;
  /** The client's breaker: while it is open, work waits (the daemon calls resume() once it closes). */
  health?: ApiHealth | undefined;
  /** How often the root is checked while watching (default 1 s). */
  rootCheckMs?: number | undefined;
  /** PostgreSQL lease timings (tests shorten them): retries in standby and while paused, staleness, heartbeat. */
  leaseRetry?: Partial<LeaseRetryTimings> | undefined;
  leaseStaleMs?: number | undefined;
  heartbeatMs?: number | undefined;
}

/** Failures with a cause shared by every file (API down, storage full): the daemon retries them all at once. */
function isSharedCause(o: { error?: string | undefined; httpStatus?: number | undefined }): boolean {
  return failureReason({ error: o.error ?? '' }) !== 'failed';
}

/** Unlinked paths by basename: what a new directory's files may have been renamed from. */
type UnlinksByName = Map<string, string[]>;

function addUnlinks(index: UnlinksByName, paths: readonly string[]): void {
  for (const p of paths) addToList(index, path.posix.basename(p), p);
}

/** Whether `promise` settles within `ms` (it is left running either way; the timer holds no process open). */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>(
    (resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms)).unref()),
  );
  try {
    return await Promise.race([promise.then(() => true as const), expired]);
  } finally {
    clearTimeout(timer);
  }
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
  /** Fires when the next queued delete's retention has passed. */
  private drainTimer: NodeJS.Timeout | undefined;
  private drainAt: number | undefined;
  private rootTimer: NodeJS.Timeout | undefined;
  /** The root's identity when last seen, and whether it is missing now. */
  private root: RootCheck | undefined;
  private rootMissing = false;
  private readonly timers = new RetryTimers(RETRY_BASE_MS, RETRY_MAX_MS);
  private readonly jobs = new KeyedQueue();
  private queuedPaths = new Set<string>();
  /**
   * Listings of new directories under way: a batch waits for them (see runBatch). Each holds the
   * unlinks heard since it began, by basename, to touch again with its finds (listNewDirectory).
   */
  private readonly listings = new Map<Promise<void>, UnlinksByName>();
  /** Ends a batch's wait for listings at once (set while it waits): the run is ending. */
  private endListingWait: (() => void) | undefined;
  private reconcileQueued = false;
  /** Set by `releaseDeletes` until the delete queue has nothing waiting (see there). */
  private released = false;
  /** True whenever no run is active: before start, in standby, paused, stopped. Nothing new is started. */
  private halted = true;
  private stopped = false;
  /** A watcher set up ahead of the first run (watchAhead), until that run starts; and whether it failed. */
  private watchingAhead: { failed: boolean } | undefined;
  /**
   * The start-up walk, started on its thread once the watcher set up ahead was ready while the
   * state was still being read (walkAhead), until the start-up reconciliation takes it; and what
   * the watcher heard meanwhile, until the run starts and hears it.
   */
  private scanAhead: { scan: PendingScan; rootId: string | undefined } | undefined;
  private heardAhead: WatchEvent[] | undefined;
  /** Aborts the current run's work in flight; a new one per run. */
  private abort = new AbortController();
  /** Counts runs, so a store's late event from an earlier run is ignored. */
  private runId = 0;
  /** Starts, halts and stops of runs happen one at a time, in order. */
  private lifecycle: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly lease: FolderLeaseWatch;
  /** When each path's pending change was first seen (for the change-to-upload metric). */
  private readonly firstSeen = new Map<string, number>();
  private readonly tracker: FolderStatusTracker;
  private readonly log: Logger;

  constructor(private readonly opts: FolderSyncOptions) {
    this.log = opts.logger.child({ folder: opts.folder.name });
    this.tracker = new FolderStatusTracker(opts.folder.name, opts.folder.path, this.log, opts.metrics);
    this.lease = new FolderLeaseWatch({
      standbyRetryMs: opts.leaseRetry?.standbyRetryMs ?? STANDBY_RETRY_MS,
      pausedRetryMaxMs: opts.leaseRetry?.pausedRetryMaxMs ?? PAUSED_RETRY_MAX_MS,
    });
  }

  get name(): string {
    return this.opts.folder.name;
  }

  /**
   * Opens the manifest, reconciles once (if configured), then starts watching and the timer. A
   * folder whose lease another daemon holds stands by instead (and takes over when it can).
   */
  async start(): Promise<void> {
    const started = this.openRun('start').catch((err: unknown) => {
      if (!(err instanceof LeaseHeldError)) throw err;
      this.standBy(err);
    });
    // A halt reported while the run starts waits for it (see inOrder).
    this.lifecycle = started.catch(() => undefined);
    await started;
    this.opts.onStatus?.();
  }

  /**
   * Opens the state (taking the lease) and starts the run: watcher, timers, a reconciliation. A
   * takeover or a resume always reconciles: it resolves whatever the last run left (intents of
   * uploads that may have gone out) and finds the changes made while no one watched.
   */
  private async openRun(how: 'start' | 'takeover' | 'resume'): Promise<void> {
    const { config, folder } = this.opts;
    const run = ++this.runId;
    this.abort = new AbortController();
    // Like the listing, only where no lease is waited for: a folder another daemon owns is not watched.
    const ahead =
      how === 'start' && config.watch.enabled && config.state.backend !== 'postgres'
        ? this.watchAhead()
        : undefined;
    try {
      this.session = await this.openSession(run, how);
    } catch (err) {
      if (ahead) await this.dropWatchAhead();
      throw err;
    }
    this.lease.acquired();
    // The store gave up while it opened: the halt queued behind this run closes it.
    if (this.abort.signal.aborted) {
      if (ahead) await this.dropWatchAhead();
      return;
    }
    this.halted = false;
    this.tracker.setMode('starting', 'run started');
    if (config.watch.enabled) {
      if (!(ahead && (await this.keepWatchAhead(ahead)))) {
        this.root = await checkRoot(folder.path);
        await this.startWatcher();
      }
      this.rootTimer = setInterval(() => void this.checkRoot(), this.opts.rootCheckMs ?? ROOT_CHECK_MS);
      this.rootTimer.unref();
    } else this.tracker.setMode('reconcile-only', 'watching is off');
    if (config.reconcile.intervalMs > 0) {
      this.reconcileTimer = setInterval(() => this.requestReconcile('timer'), config.reconcile.intervalMs);
      this.reconcileTimer.unref();
    }
    // Nobody watched the folder before: its scan starts once the watcher is ready, so a change is
    // seen by one or the other (a file written after the scan read its directory and before the
    // watcher covered it would be missed). The start-up listing runs meanwhile (listAhead).
    if (how === 'start' && config.reconcile.onStart) this.requestReconcile('startup');
    else if (how === 'takeover') this.requestReconcile('took over');
    else if (how === 'resume') this.requestReconcile('state database back');
    this.logLeaseAcquired(how);
  }

  /** Opens the folder's state for run `run` (taking the lease). */
  private openSession(run: number, how: 'start' | 'takeover' | 'resume'): Promise<FolderSession> {
    const { config, folder } = this.opts;
    return openFolderSession(config, folder, this.opts.client, this.opts.logger, {
      signal: this.abort.signal,
      // The start-up reconciliation is the first job: its listing may start while the state is read.
      listAhead: how === 'start' && config.reconcile.onStart ? this.opts.client : undefined,
      onEvent: (e) => this.onExecutorEvent(e),
      store: {
        onLeaseLost: (err) => this.onStoreHalted(run, 'standby', err),
        onUnreachable: (err) => this.onStoreHalted(run, 'paused', err),
        onWriteError: (err) => this.log.warn({ err: err.message }, 'state write failed; retrying'),
        reclaimToken: this.lease.reclaimToken,
        leaseStaleMs: this.opts.leaseStaleMs,
        heartbeatMs: this.opts.heartbeatMs,
      },
    });
  }

  private logLeaseAcquired(how: 'start' | 'takeover' | 'resume'): void {
    const held = this.session?.manifest.lease;
    if (held !== undefined)
      this.log.info(
        { event: 'lease-acquired', token: held.token, how },
        how === 'takeover'
          ? 'took over the folder: its lease was free or stale (reconciling)'
          : how === 'resume'
            ? 'state database answers again; folder resumed (reconciling)'
            : 'folder lease taken: this daemon owns the folder',
      );
  }

  /**
   * The store stopped writing (lease taken over, or the database unreachable): from this moment
   * nothing new starts and work in flight is aborted, so no upload follows; the rest of the halt
   * (watcher, closing the state unwritten) runs in order with other runs' starts and stops.
   */
  private onStoreHalted(
    run: number,
    next: 'standby' | 'paused',
    err: LeaseLostError | PgConnectionError,
  ): void {
    if (run !== this.runId || this.stopped) return;
    this.halted = true;
    this.abort.abort();
    this.inOrder(async () => {
      if (this.stopped) return;
      this.log.error(
        { event: next === 'standby' ? 'lease-lost' : 'state-database-unreachable', err: err.message },
        next === 'standby'
          ? 'lease lost: another daemon owns this folder now; stopped syncing it, standing by'
          : 'state database unreachable: folder paused (nothing is uploaded until it answers again)',
      );
      this.tracker.recordError(err.message);
      const held = this.session?.manifest.lease;
      await this.endRun();
      this.lease.released(held, next === 'paused');
      if (next === 'standby') {
        this.tracker.setMode('standby', 'lease taken over by another daemon');
        this.retryLeaseIn(this.lease.standbyDelay());
      } else {
        this.tracker.setMode('paused', err.message);
        this.retryLeaseIn(this.lease.unreachable());
      }
    });
  }

  /** Runs a start, halt or stop step after the ones before it; never rejects. */
  private inOrder(step: () => Promise<void>): void {
    this.lifecycle = this.lifecycle
      .then(step)
      .catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'folder run change failed'))
      .finally(() => this.opts.onStatus?.());
  }

  /** Stops the run at once: no watcher, no timers, work in flight aborted, state closed without writing (if halted). */
  private async endRun(): Promise<void> {
    this.halted = true;
    this.endListingWait?.();
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    if (this.drainTimer) clearTimeout(this.drainTimer);
    if (this.rootTimer) clearInterval(this.rootTimer);
    this.reconcileTimer = this.drainTimer = this.rootTimer = this.drainAt = undefined;
    this.timers.close();
    this.debouncer?.close();
    this.debouncer = undefined;
    await this.watcher?.close().catch(() => undefined);
    this.watcher = undefined;
    this.dropScanAhead();
    this.abort.abort();
    await this.idle();
    this.queuedPaths.clear();
    // A listing still under way (a hung readdir) belongs to this run: no batch of the next waits
    // for it, and what it finds is dropped (listNewDirectory).
    this.listings.clear();
    this.reconcileQueued = false;
    this.firstSeen.clear();
    this.rootMissing = false;
    const session = this.session;
    this.session = undefined;
    await session
      ?.close()
      .catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'could not close the folder state'));
  }

  /** Another daemon holds the lease: show who, and try again in 1-2 s. */
  private standBy(err: LeaseHeldError): void {
    if (this.tracker.mode !== 'standby')
      this.log.info(
        { event: 'lease-standby', owner: err.context.ownerHost, ownerPid: err.context.ownerPid },
        'folder owned by another daemon; standing by to take over',
      );
    const delay = this.lease.heldBy(err);
    this.tracker.setMode('standby', err.message);
    this.retryLeaseIn(delay);
  }

  private retryLeaseIn(delayMs: number): void {
    if (this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.inOrder(() => this.tryTakeOver());
    }, delayMs);
    this.retryTimer.unref();
  }

  /** One attempt of a standby or paused folder to take (or take back) its lease and run again. */
  private async tryTakeOver(): Promise<void> {
    if (this.stopped) return;
    const was = this.tracker.mode;
    try {
      await this.openRun(was === 'paused' ? 'resume' : 'takeover');
    } catch (err) {
      if (err instanceof LeaseHeldError) {
        this.standBy(err);
        return;
      }
      // The store's own errors already say "cannot open the state of folder ... in <database>".
      const why =
        err instanceof PgConnectionError ? `state database unreachable: ${err.message}` : errorMessage(err);
      if (was !== 'paused') this.log.error({ err: why }, 'state database unreachable: folder paused');
      else this.log.debug({ err: why }, 'state database still unreachable');
      this.tracker.setMode('paused', why);
      this.retryLeaseIn(this.lease.unreachable());
    }
  }

  /**
   * A missing root (renamed away, unmounted) stops watching and shows as unavailable, never as
   * deletions; a root that is back (or replaced by another directory) is watched anew and reconciled.
   */
  private async checkRoot(): Promise<void> {
    if (this.halted) return;
    const now = await checkRoot(this.opts.folder.path);
    if (this.halted) return;
    const root = this.opts.folder.path;
    if (now.missing !== undefined) {
      if (this.rootMissing) return;
      this.rootMissing = true;
      this.log.error({ root, err: now.missing }, 'folder root missing; watching stopped until it comes back');
      this.tracker.setMode('unavailable', 'folder root missing');
      this.tracker.recordError(`folder root missing: ${now.missing}`);
      this.debouncer?.close();
      this.debouncer = undefined;
      await this.watcher?.close().catch(() => undefined);
      this.watcher = undefined;
      this.opts.onStatus?.();
      return;
    }
    const replaced = this.root !== undefined && !this.rootMissing && now.id !== this.root.id;
    this.root = now;
    if (!this.rootMissing && !replaced) return;
    this.rootMissing = false;
    this.log.warn(
      { root, replaced },
      replaced ? 'folder root replaced; watching it anew' : 'folder root is back; watching again',
    );
    this.debouncer?.close();
    await this.watcher?.close().catch(() => undefined);
    this.watcher = undefined;
    this.tracker.setMode('starting', 'folder root back');
    await this.startWatcher();
    this.requestReconcile('folder root back');
    this.opts.onStatus?.();
  }

  /** A change consumers saw: the store keeps it if it keeps a history (PostgreSQL). */
  recordChange(change: StateChangeEvent): void {
    this.session?.manifest.recordChange?.(change);
  }

  /** The API answers again (or the quota pause ran out): catch up with one reconciliation. */
  resume(reason: string): void {
    this.requestReconcile(reason);
  }

  /** The longest a change waits before its batch: the debouncer's cap, and a listing's. */
  private maxDelayMs(): number {
    return Math.max(this.opts.config.watch.debounceMs * 10, 10_000);
  }

  private async startWatcher(): Promise<void> {
    try {
      await this.setUpWatcher(this.session!.filter);
      this.watcherReady();
    } catch (err) {
      this.onWatchError(err as Error);
    }
  }

  /** A debouncer and a watcher that passes what `filter` syncs; resolves once it is ready. */
  private async setUpWatcher(filter: PathFilter): Promise<void> {
    this.debouncer = createPathDebouncer({
      quietMs: this.opts.config.watch.debounceMs,
      maxDelayMs: this.maxDelayMs(),
      onFlush: (paths) => this.enqueuePaths(paths),
    });
    this.watcher = this.newWatcher(filter);
    await this.watcher.ready();
  }

  /** A starting folder is watching once its watcher is ready. */
  private watcherReady(): void {
    if (this.tracker.mode === 'starting') this.tracker.setMode('watching', 'watcher ready');
  }

  /**
   * Sets up the watcher of a first run while its state is read: the start-up scan waits for it
   * (see openRun), and parcel's own walk of the folder runs on a thread of its own, beside the
   * read. Until the scan starts (walkAhead, or the run), what it hears is dropped (halted): older
   * than the scan, which sees it. Resolves whether it is ready; never rejects (a failure is the
   * usual set-up's to report). The root's identity is taken first, as the usual set-up does, so a
   * root replaced while the watcher starts is noticed.
   */
  private async watchAhead(): Promise<boolean> {
    this.watchingAhead = { failed: false };
    try {
      this.root = await checkRoot(this.opts.folder.path);
      await this.setUpWatcher(folderFilter(this.opts.config, this.opts.folder));
      this.walkAhead();
      return true;
    } catch (err) {
      this.log.debug({ err: errorMessage(err) }, 'watcher set up ahead failed');
      return false;
    }
  }

  /**
   * Keeps the watcher set up ahead when it became ready and nothing failed since; else closes it
   * (the run then sets one up as usual, which reports what is wrong).
   */
  private async keepWatchAhead(ahead: Promise<boolean>): Promise<boolean> {
    const kept = (await ahead) && this.watchingAhead?.failed === false;
    if (!kept) await this.dropWatchAhead();
    this.watchingAhead = undefined;
    if (kept) {
      this.watcherReady();
      const heard = this.heardAhead;
      this.heardAhead = undefined;
      if (heard !== undefined && heard.length > 0) this.onWatchEvents(heard);
    }
    return kept;
  }

  /**
   * Starts the start-up reconciliation's walk on its thread when the watcher set up ahead is
   * ready while the state is still being read (a large state): the walk overlaps the rest of the
   * read, as the one-shot sync's does. It follows the watcher, so a change made after the walk
   * read its directory is heard: what is heard from now on is kept (heardAhead) and handed to the
   * run once it starts, not dropped. A state read first leaves the walk to the reconciliation.
   */
  private walkAhead(): void {
    const { config, folder } = this.opts;
    if (this.session !== undefined || this.watchingAhead?.failed !== false) return;
    if (!config.reconcile.onStart || this.abort.signal.aborted) return;
    this.heardAhead = [];
    const scan = startThreadScan(folderScanRequest(config, folder), this.abort.signal);
    this.scanAhead = { scan, rootId: this.root?.id };
    this.log.debug('walking the folder while its state is read');
    scan.result.then(
      (found) => this.log.debug({ files: found.entries.size }, 'walk ahead done'),
      (err: unknown) => this.log.debug({ err: errorMessage(err) }, 'walk ahead failed'),
    );
  }

  /** Keeps what the watcher hears while the walk ahead runs; too much, and the walk is dropped. */
  private hearAhead(events: WatchEvent[]): void {
    const heard = this.heardAhead!;
    for (const e of events) heard.push(e);
    if (heard.length <= MAX_HEARD_AHEAD) return;
    this.log.debug(
      { events: heard.length },
      'too much heard while walking ahead; the reconciliation walks later',
    );
    this.dropScanAhead();
  }

  /** Ends a walk ahead nobody will use, and forgets what was heard meanwhile. */
  private dropScanAhead(): void {
    this.scanAhead?.scan.cancel();
    this.scanAhead = undefined;
    this.heardAhead = undefined;
  }

  /**
   * The walk ahead, for the start-up reconciliation. It read the root as it was when the watcher
   * started: a root replaced since (a mount landed on it while a large state was read) is walked
   * again, not planned against.
   */
  private async takeScanAhead(): Promise<PendingScan | undefined> {
    const ahead = this.scanAhead;
    this.scanAhead = undefined;
    if (ahead === undefined) return undefined;
    if ((await checkRoot(this.opts.folder.path)).id === ahead.rootId) return ahead.scan;
    ahead.scan.cancel();
    return undefined;
  }

  /**
   * Closes a watcher set up ahead, without waiting for it to be ready (it may never be). What it
   * heard once the run started is handed on, not dropped.
   */
  private async dropWatchAhead(): Promise<void> {
    this.watchingAhead = undefined;
    this.dropScanAhead();
    this.debouncer?.flushNow();
    this.debouncer?.close();
    this.debouncer = undefined;
    await this.watcher?.close().catch(() => undefined);
    this.watcher = undefined;
  }

  private newWatcher(filter: PathFilter): FolderWatcher {
    const { config, folder } = this.opts;
    return (this.opts.createWatcher ?? createWatcher)(config.watch.backend, {
      root: folder.path,
      filter,
      followSymlinks: folder.followSymlinks,
      logger: this.log,
      onEvents: (events) => this.onWatchEvents(events),
      onError: (err) => this.onWatchError(err),
    });
  }

  private onWatchError(err: Error): void {
    const fatal = err.name === 'WatchLimitError' || errorCode(err) === 'ENOSPC';
    if (this.watchingAhead !== undefined && fatal) {
      // Set up ahead of the run: it is set up again, as usual, once the run starts.
      this.log.debug({ err: err.message }, 'watcher set up ahead failed');
      this.watchingAhead.failed = true;
      return;
    }
    if (fatal) {
      // The reconciliation below walks afresh: a walk made ahead may predate what this watcher missed.
      this.dropScanAhead();
      if (this.tracker.mode !== 'reconcile-only') {
        this.log.error(
          { err: err.message },
          'watcher unavailable; this folder falls back to periodic reconciliation only',
        );
        this.tracker.setMode('reconcile-only', 'watcher failed');
        this.tracker.recordError(err.message);
        void this.watcher?.close().catch(() => undefined);
        this.watcher = undefined;
        this.debouncer?.flushNow();
        // Events may have been lost before the watcher died, and with periodic reconciliation off
        // nothing would ever look at this folder again: reconcile now and on a fallback timer.
        if (!this.halted) {
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
    this.log.warn({ err: err.message, code: errorCode(err) }, 'watcher error');
  }

  private onWatchEvents(events: WatchEvent[]): void {
    if (this.heardAhead !== undefined) {
      this.hearAhead(events);
      return;
    }
    if (this.halted) return;
    const now = Date.now();
    const manifest = this.session!.manifest;
    const newDirs: WatchEvent[] = [];
    const unlinked: string[] = [];
    for (const ev of datedBatch(events, (p) => manifest.get(p)?.ino)) {
      if (ev.type === 'dir') {
        newDirs.push(ev);
      } else if (ev.type === 'unlink-dir') {
        for (const p of this.session!.manifest.paths())
          if (isWithin(p, ev.path)) {
            this.touch(p, now, ev.quietMs);
            unlinked.push(p);
          }
      } else {
        this.touch(ev.path, now, ev.quietMs);
        if (ev.type === 'unlink') unlinked.push(ev.path);
      }
    }
    if (unlinked.length > 0) for (const heard of new Set(this.listings.values())) addUnlinks(heard, unlinked);
    if (newDirs.length === 0) return;
    // One index for the batch's listings: a copied tree starts one per directory.
    const heard: UnlinksByName = new Map();
    addUnlinks(heard, unlinked);
    for (const dir of newDirs) this.listNewDirectory(dir, now, heard);
  }

  /**
   * chokidar misses files created right after their directory, and parcel those renamed into it
   * before it watches it: list it ourselves. What it finds is dated like the directory's event.
   * The unlinks of the same basename heard since are touched again with each find (a move keeps
   * its basename): the debouncer never dates a path before one it holds, so a fresher change
   * touched after the unlink would put the find due after the unlink of a file renamed into the
   * directory, and the move would sync as a delete and an upload. Touched together, the two
   * halves fall due together. Once a batch waits for the listing (runBatch), they join it.
   */
  private listNewDirectory(ev: WatchEvent, heardAt: number, heard: UnlinksByName): void {
    const list = this.opts.listNewDirectory ?? listDir;
    const run = this.runId;
    const listing: Promise<void> = list(this.opts.folder.path, ev.path, this.session!.filter, {
      followSymlinks: this.opts.folder.followSymlinks,
    })
      .then((paths) => {
        // The run ended meanwhile: the next one starts with a reconciliation, which sees it all.
        if (run !== this.runId || this.halted) return;
        // By name, once: a tree of many index.md files must not touch each namesake once per find.
        const found = new Set<string>(paths);
        for (const name of new Set(paths.map((p) => path.posix.basename(p))))
          for (const from of heard.get(name) ?? []) found.add(from);
        // As old as the directory's event: the listing's time counts as quiet already.
        const at = Date.now();
        const quietMs = (ev.quietMs ?? 0) + (at - heardAt);
        if (this.endListingWait !== undefined) {
          // A batch waits for this listing: what it finds joins that batch, whatever the
          // debouncer would make of its date.
          for (const p of found) this.markSeen(p, at - quietMs);
          this.enqueuePaths([...found]);
        } else {
          for (const p of found) this.touch(p, at, quietMs);
        }
      })
      .catch((err: unknown) =>
        this.log.debug({ dir: ev.path, err: errorMessage(err) }, 'could not list new directory'),
      )
      .finally(() => this.listings.delete(listing));
    this.listings.set(listing, heard);
  }

  /** Notes when a path's change happened, unless an earlier one is noted (change-to-upload latency). */
  private markSeen(relPath: string, changedAt: number): void {
    if (!this.firstSeen.has(relPath)) this.firstSeen.set(relPath, changedAt);
  }

  /** Hands a path heard of at `at`, its change `quietMs` old by then, to the debouncer. */
  private touch(relPath: string, at = Date.now(), quietMs = 0): void {
    this.markSeen(relPath, at - quietMs);
    if (this.debouncer) this.debouncer.touch(relPath, quietMs);
    else this.enqueuePaths([relPath]);
    this.tracker.setQueueDepth(this.queueDepth());
  }

  /** Queues paths for a watcher batch (coalesced with any batch already waiting). */
  private enqueuePaths(paths: readonly string[]): void {
    if (this.halted) return;
    const wasEmpty = this.queuedPaths.size === 0;
    for (const p of paths) this.queuedPaths.add(p);
    if (wasEmpty && this.queuedPaths.size > 0) {
      void this.schedule(async () => {
        await new Promise((resolve) => setImmediate(resolve));
        if (!this.halted) await this.runBatch();
      });
    }
    this.tracker.setQueueDepth(this.queueDepth());
  }

  /** Queues a full reconciliation (coalesced: at most one waits). */
  private requestReconcile(reason: string): void {
    if (this.halted || this.reconcileQueued) return;
    this.reconcileQueued = true;
    this.log.debug({ reason }, 'reconciliation queued');
    void this.schedule(async () => {
      this.reconcileQueued = false;
      await this.reconcile(reason);
    });
  }

  /** Queues a job after the folder's others; resolves once it ran (or was skipped by a stop), never rejects. */
  private schedule(job: () => Promise<void>): Promise<void> {
    return this.jobs.run(JOBS, async () => {
      try {
        if (!this.halted) await job();
      } catch (err) {
        this.log.error({ err: errorMessage(err) }, 'sync job failed');
        this.tracker.recordError(errorMessage(err));
      } finally {
        // The gauge is set when paths arrive; without this it kept the last arrival's depth forever.
        this.tracker.setQueueDepth(this.queueDepth());
        this.opts.onStatus?.();
      }
    });
  }

  /** Resolves once every queued job (and any it queued meanwhile) has run. For tests and shutdown. */
  idle(): Promise<void> {
    return this.jobs.idle();
  }

  /**
   * Reconciles once with the delete guards off, after the jobs already queued: what they hold is
   * deleted (`files-sync release-deletes`). Undefined when the folder stopped first or the pass threw.
   */
  async releaseDeletes(): Promise<ReleaseResult> {
    let report: ReconcileReport | undefined;
    await this.schedule(async () => {
      // Released removals may wait out their retention in the queue: the drains that send them
      // must not hold them again, so the release lasts until the queue has sent what it held.
      this.released = true;
      report = await this.reconcile('release-deletes', true);
    });
    return releaseResult(this.name, report);
  }

  private async reconcile(
    reason: string,
    allowMassDelete = this.opts.allowMassDelete,
  ): Promise<ReconcileReport | undefined> {
    // The start-up reconciliation's listing, started as the run opened, and its walk when the
    // watcher was ready before the state (see walkAhead).
    const headStart = this.session!.takeHeadStart();
    const scan = await this.takeScanAhead();
    // A refused key that the listing met itself is reported by the pass, as it was when the
    // listing came after the scan (and the pass stops at once); any other degradation defers.
    if (this.opts.health?.degraded && !(headStart && 'refused' in (await headStart.listing.result))) {
      cancelHeadStart(headStart);
      scan?.cancel();
      // Every request would fail fast; resume() reconciles once the breaker closes.
      this.log.debug({ reason }, 'reconciliation deferred: the Files API is degraded');
      return undefined;
    }
    const report = await reconcileSession(this.session!, this.opts.config, this.opts.client, {
      allowMassDelete,
      signal: this.abort.signal,
      listing: headStart?.listing,
      scan,
    });
    this.tracker.recordReconcile(report, reason);
    if (report.deleteQueue) this.afterDrain(report.deleteQueue);
    if (report.status === 'unavailable') {
      this.tracker.setMode('unavailable', 'folder root unavailable');
    } else if (this.tracker.mode === 'unavailable') {
      this.tracker.setMode(
        this.opts.config.watch.enabled ? 'watching' : 'reconcile-only',
        'folder root back',
      );
      if (this.opts.config.watch.enabled && !this.watcher) await this.startWatcher();
    }
    // Paths the executor could not finish are looked at again by the watcher path with backoff;
    // those that failed for a shared cause wait for the daemon's resume() instead.
    for (const f of report.failed) if (!isSharedCause(f)) this.retryLater(f.path);
    return report;
  }

  /** Runs a pass over the queued paths. */
  private async runBatch(): Promise<void> {
    // A listing slower than the debounce (a busy thread pool) would let the unlink of a file
    // renamed into a new directory run alone, as a delete, before the listing finds the new path.
    // Wait for the listings (what they find joins this batch: listNewDirectory), then take what
    // else is due by now. Not forever: a readdir hung on a dead mount must not hold the folder's
    // jobs (its paths come later alone).
    const waitUntil = performance.now() + this.maxDelayMs();
    while (this.listings.size > 0) {
      this.log.debug(
        { paths: this.queuedPaths.size, listings: this.listings.size },
        'batch waits for new directories to be listed',
      );
      const ended = new Promise<void>((resolve) => (this.endListingWait = resolve));
      const listed = await settledWithin(
        Promise.race([Promise.all(this.listings.keys()), ended]),
        waitUntil - performance.now(),
      );
      this.endListingWait = undefined;
      if (this.halted) return;
      this.debouncer?.flushDue();
      if (!listed) {
        this.log.warn(
          { listings: this.listings.size, waitedMs: this.maxDelayMs() },
          'new directories still being listed; the batch goes on without what they find',
        );
        // Still touched if they ever finish, but no later batch waits for them again.
        this.listings.clear();
        break;
      }
    }
    const paths = [...this.queuedPaths];
    this.queuedPaths.clear();
    if (paths.length === 0) return;
    if (this.opts.health?.degraded) {
      // The reconciliation after resume() covers these paths.
      return;
    }
    // A listing started as the run opened is the start-up reconciliation's; any batch before
    // that reconciliation would make it stale.
    cancelHeadStart(this.session!.takeHeadStart());
    this.scanAhead?.scan.cancel();
    this.scanAhead = undefined;
    const ctx = passContext(this.session!, this.opts.config, this.opts.client, {
      allowMassDelete: this.opts.allowMassDelete,
      signal: this.abort.signal,
    });
    const report = await runPass(ctx, {
      paths,
      onLocal: (state) => {
        for (const s of state.skipped) this.tracker.reportSkipped(s.path, s.reason, s.detail);
        for (const p of state.readable) this.tracker.clearSkip(p);
        for (const p of state.retry) this.retryLater(p);
      },
    });
    const { plan } = report;
    if (report.deleteQueue) this.afterDrain(report.deleteQueue);
    if (report.status === 'unavailable' || !plan) {
      this.tracker.setMode('unavailable', 'folder root unavailable');
      this.tracker.recordError(report.error ?? 'folder unavailable');
      // Looked at again with backoff, so nothing is lost when the root comes back (even with no timer).
      for (const p of paths) this.retryLater(p);
      return;
    }
    for (const s of plan.skipped) {
      if (s.reason === 'pending-intent')
        this.timers.after(INTENT_RECONCILE_DELAY_MS, () => this.requestReconcile('pending intent'));
      else if (s.reason === 'too-large')
        this.log.warn({ path: s.path, detail: s.detail }, 'file over the API limit of 500 MB; skipped');
    }
    if (report.heldDeletes > 0) this.tracker.setHeld(report.heldDeletes, report.heldReason);
    if (report.ops.length === 0) {
      for (const p of paths) if (!this.queuedPaths.has(p)) this.firstSeen.delete(p);
      return;
    }
    for (const o of report.outcomes) this.afterOutcome(o);
    const shared = new Set(report.outcomes.filter(isSharedCause).map((o) => opPath(o.op)));
    for (const p of report.retryLater) if (!shared.has(p)) this.retryLater(p);
  }

  /** Records the delete queue's state and arms the timer for its next due delete. */
  private afterDrain(q: DrainResult): void {
    this.tracker.recordDrain(q);
    if (q.nextDueAt === undefined || this.halted) return;
    if (this.drainAt !== undefined && this.drainAt <= q.nextDueAt) return;
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.drainAt = q.nextDueAt;
    this.drainTimer = setTimeout(
      () => {
        this.drainTimer = undefined;
        this.drainAt = undefined;
        void this.schedule(async () => {
          const drained = await this.session!.executor.drainPendingDeletes({
            allowMassDelete: this.opts.allowMassDelete || this.released,
          });
          if (drained.waiting === 0) this.released = false;
          if (drained.heldReason !== undefined && this.session!.executor.guard.setHeld(drained.heldReason))
            this.log.warn(
              { held: drained.held, reason: drained.heldReason },
              'deletes held by the safety guard; none is sent until released',
            );
          this.afterDrain(drained);
        });
      },
      Math.max(0, q.nextDueAt - Date.now()) + 10,
    );
    this.drainTimer.unref();
  }

  /** A path's change is done (or refused for good): reset its backoff and time its upload. */
  private afterOutcome(o: OpOutcome): void {
    const p = opPath(o.op);
    if (p === undefined || (o.status !== 'done' && o.status !== 'refused')) return;
    this.timers.reset(p);
    const first = this.firstSeen.get(p);
    if (first === undefined || this.queuedPaths.has(p)) return;
    this.firstSeen.delete(p);
    if (o.status === 'done' && isUploadOp(o.op)) this.tracker.observeChangeToUpload(first);
  }

  private onExecutorEvent(e: ExecutorEvent): void {
    if (e.type === 'op-end' && e.outcome) this.opts.onOutcome?.(this.name, e.outcome);
    this.tracker.onExecutorEvent(e, this.session?.manifest.size ?? 0);
  }

  private retryLater(relPath: string): void {
    if (this.halted) return;
    this.timers.retry(relPath, () => this.enqueuePaths([relPath]));
  }

  private queueDepth(): number {
    return (
      (this.debouncer?.pending() ?? 0) + this.queuedPaths.size + (this.session?.executor.inFlightCount() ?? 0)
    );
  }

  /** What /v1/lookup reads: the live manifest and filter, and whether a path has work queued or running. */
  lookupView(): LookupFolder | undefined {
    const s = this.session;
    if (!s) return undefined;
    return {
      name: this.name,
      root: this.opts.folder.path,
      manifest: s.manifest,
      includes: (rel) => s.filter.matchesFile(rel),
      busy: (rel) => this.queuedPaths.has(rel) || s.executor.inFlight().has(rel),
    };
  }

  /** A snapshot for `files-sync status` and /status. */
  status(): FolderStatus {
    const m = this.session?.manifest;
    return this.tracker.snapshot({
      filesTracked: m?.size ?? 0,
      pendingUploads: m?.pendingUploads().length ?? 0,
      pendingDeletes: m?.pendingDeletes().length ?? 0,
      queueDepth: this.queueDepth(),
      watchedPaths: this.watcher?.watchedCount(),
      suspects: m?.suspects(),
      unsettledUploads: m?.unsettled().length,
      lease: this.lease.view(m?.lease),
    });
  }

  /**
   * Stops watching, lets running work finish for up to `drainMs`, then aborts it and flushes the
   * manifest (a PostgreSQL store then releases the lease: a standby takes over at once).
   */
  async stop(drainMs = 10_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    // A takeover attempt or a halt under way finishes first, so nothing it opens is left running.
    await this.lifecycle;
    this.halted = true;
    this.endListingWait?.();
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    if (this.drainTimer) clearTimeout(this.drainTimer);
    if (this.rootTimer) clearInterval(this.rootTimer);
    this.timers.close();
    this.debouncer?.close();
    await this.watcher?.close().catch(() => undefined);
    this.dropScanAhead();
    const drained = await settledWithin(this.idle(), drainMs);
    if (!drained) {
      this.log.warn(
        { drainMs },
        'in-flight work did not finish in time; aborting it (pending intents resolve at next start)',
      );
      this.abort.abort();
      await this.idle().catch(() => undefined);
    }
    this.tracker.setMode('stopped', 'stopped');
    await this.session?.close();
  }

  /** Completed manifest writes since this folder started (tests check that writes are batched). */
  get manifestWrites(): number {
    return this.session?.manifest.writeCount ?? 0;
  }
}
