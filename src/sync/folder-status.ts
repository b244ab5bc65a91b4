/**
 * The one owner of a folder's state as others see it: its mode, last error, held deletes, last
 * reconciliation, the once-per-file "not synced" warnings and the folder's metrics. FolderSync
 * tells it what happened; `snapshot()` is what `files-sync status` and /status show.
 */
import type { Logger } from 'pino';
import type { FolderLease, FolderStatus } from '../status.js';
import type { SyncMetrics } from '../metrics.js';
import type { Suspect } from '../types.js';
import type { DrainResult, ExecutorEvent } from './execute.js';
import type { ReconcileReport } from './reconcile.js';
import { isUploadedOrAdopted, isUploadOp, opPath } from './ops.js';

export type FolderMode = FolderStatus['mode'];

/** Skip reasons worth a warning: the user expects these files to sync and they do not. */
const REPORTED_SKIPS = new Set([
  'symlink',
  'special',
  'unreadable',
  'too-large',
  'symlink-loop',
  'refused-by-api',
  'changed-or-unreadable',
  'invalid-name',
]);

/** What the tracker cannot know by itself: live counts read when a snapshot is taken. */
export interface LiveCounts {
  filesTracked: number;
  pendingUploads: number;
  pendingDeletes: number;
  queueDepth: number;
  watchedPaths?: number | undefined;
  suspects?: Suspect[] | undefined;
  unsettledUploads?: number | undefined;
  lease?: FolderLease | undefined;
}

export class FolderStatusTracker {
  private current: FolderMode = 'starting';
  /** Why the folder stands by or is paused, shown by status. */
  private shownReason: string | undefined;
  private held = 0;
  private heldReason: string | undefined;
  private deleteQueue: FolderStatus['deleteQueue'];
  private lastReconcile: FolderStatus['lastReconcile'];
  private lastError: FolderStatus['lastError'];
  /** Paths warned about as not synced, with the reason, so each is warned about once. */
  private readonly reportedSkips = new Map<string, string>();

  constructor(
    private readonly name: string,
    private readonly root: string,
    private readonly log: Logger,
    private readonly metrics: SyncMetrics | undefined,
  ) {}

  get mode(): FolderMode {
    return this.current;
  }

  /**
   * Moves the folder to `next`; `reason` says why in the debug log. Standby and paused are shown
   * with their reason (status, /healthz), since the folder does nothing while in them.
   */
  setMode(next: FolderMode, reason: string): void {
    this.shownReason = next === 'standby' || next === 'paused' ? reason : undefined;
    if (next === this.current) return;
    this.log.debug({ from: this.current, to: next, reason }, 'folder mode changed');
    this.current = next;
  }

  recordError(message: string, path?: string): void {
    this.lastError = { at: new Date().toISOString(), message };
    if (path !== undefined) this.lastError.path = path;
  }

  /** Warns once about a file that cannot be synced (until its reason changes), so it is never silently missing. */
  reportSkipped(path: string, reason: string, detail?: string): void {
    if (!REPORTED_SKIPS.has(reason) || this.reportedSkips.get(path) === reason) return;
    this.reportedSkips.set(path, reason);
    this.log.warn({ path, reason, detail }, 'file not synced');
    this.recordError(`not synced (${reason}${detail !== undefined ? `: ${detail}` : ''})`, path);
  }

  /** The path was read fine: a later problem with it is warned about again. */
  clearSkip(path: string): void {
    this.reportedSkips.delete(path);
  }

  /** Deletes the safety guard holds back, and why. */
  setHeld(count: number, reason: string | undefined): void {
    this.held = count;
    this.heldReason = reason;
    this.metrics?.heldDeletes.set({ folder: this.name }, count);
  }

  /** The delete queue after a drain: what waits for its retention, what is due, what was sent. */
  recordDrain(q: DrainResult): void {
    const due = q.held + q.failed;
    this.deleteQueue = { waiting: q.waiting, due };
    if (q.nextDueAt !== undefined) this.deleteQueue.nextDueAt = new Date(q.nextDueAt).toISOString();
    if (q.held === 0 && this.held > 0) this.setHeld(0, undefined);
    else if (q.held > 0) this.setHeld(q.held, q.heldReason);
    const m = this.metrics;
    if (!m) return;
    m.deleteQueue.set({ folder: this.name, state: 'waiting' }, q.waiting);
    m.deleteQueue.set({ folder: this.name, state: 'due' }, due);
    if (q.done > 0) m.deletes.inc({ folder: this.name }, q.done);
  }

  /** Records (and logs) a finished reconciliation: its summary, failures, warnings and duration. */
  recordReconcile(report: ReconcileReport, reason: string): void {
    const { durationMs } = report;
    this.setHeld(report.heldDeletes, report.heldReason);
    this.lastReconcile = {
      at: new Date().toISOString(),
      result:
        report.status === 'ok'
          ? 'ok'
          : report.status === 'unavailable'
            ? `unavailable: ${report.error ?? ''}`
            : `${report.failed.length} failed`,
      durationMs,
      uploaded: report.uploaded,
      replaced: report.replaced,
      deleted: report.deleted,
      failed: report.failed.length,
    };
    if (report.status === 'unavailable') this.recordError(report.error ?? 'folder unavailable');
    for (const f of report.failed) this.recordError(f.error, f.path);
    for (const s of report.skipped) this.reportSkipped(s.path, s.reason, s.detail);
    this.metrics?.reconcileSeconds.observe({ folder: this.name }, durationMs / 1000);
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
        durationMs,
      },
      'reconciliation done',
    );
  }

  /** Counts a finished operation in the metrics; a failure becomes the last error. */
  onExecutorEvent(e: ExecutorEvent, filesTracked: number): void {
    const m = this.metrics;
    if (!m || e.type !== 'op-end' || !e.outcome) return;
    const { op, outcome } = e;
    if (outcome.status === 'done') {
      if (isUploadedOrAdopted(op)) {
        m.uploads.inc({ folder: this.name, kind: op.kind });
        if (isUploadOp(op)) m.uploadBytes.inc({ folder: this.name }, op.local.size);
      }
    } else if (outcome.status === 'failed' || outcome.status === 'ambiguous') {
      m.failures.inc({ folder: this.name, kind: op.kind });
      this.recordError(outcome.error ?? outcome.status, opPath(op));
    }
    m.filesTracked.set({ folder: this.name }, filesTracked);
  }

  /** An upload of a change first seen at `firstSeenMs` was recorded. */
  observeChangeToUpload(firstSeenMs: number): void {
    this.metrics?.changeToUploadSeconds.observe({ folder: this.name }, (Date.now() - firstSeenMs) / 1000);
  }

  setQueueDepth(depth: number): void {
    this.metrics?.queueDepth.set({ folder: this.name }, depth);
  }

  /** A snapshot for `files-sync status` and /status. */
  snapshot(live: LiveCounts): FolderStatus {
    const s: FolderStatus = {
      name: this.name,
      root: this.root,
      mode: this.current,
      filesTracked: live.filesTracked,
      pendingUploads: live.pendingUploads,
      pendingDeletes: live.pendingDeletes,
      heldDeletes: this.held,
      queueDepth: live.queueDepth,
    };
    if (this.shownReason !== undefined) s.modeReason = this.shownReason;
    if (live.lease !== undefined) s.lease = live.lease;
    if (this.heldReason && this.held > 0) s.heldReason = this.heldReason;
    if (this.lastReconcile) s.lastReconcile = this.lastReconcile;
    if (this.lastError) s.lastError = this.lastError;
    if (live.watchedPaths !== undefined) s.watchedPaths = live.watchedPaths;
    if (this.deleteQueue) s.deleteQueue = this.deleteQueue;
    if (live.suspects !== undefined) {
      s.suspects = live.suspects;
      this.metrics?.suspects.set({ folder: this.name }, live.suspects.length);
    }
    if (live.unsettledUploads !== undefined) s.unsettledUploads = live.unsettledUploads;
    return s;
  }
}
