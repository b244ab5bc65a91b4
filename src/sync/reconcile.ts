/**
 * One full reconciliation of one folder: a pass over the whole folder with a remote listing,
 * recorded in the manifest's stats. `files-sync sync` runs it once; the daemon runs it at start
 * and on a timer.
 */
import { runPass, type PassContext, type PassManifest, type PassOptions, type PassReport } from './pass.js';
import { collectGarbageSoon } from '../util/collect-garbage.js';

/** From this many files on, a full pass leaves enough garbage behind to collect it at once. */
const LARGE_FOLDER_FILES = 10_000;

/** Reconciliation records its result in the state's stats, through the same store interface. */
export type ReconcileManifest = PassManifest;

export interface ReconcileOptions
  extends PassContext, Pick<PassOptions, 'onPlan' | 'onProgress' | 'listing' | 'scan'> {
  folderName: string;
  manifest: ReconcileManifest;
  dryRun: boolean;
}

/** The summary `files-sync sync` prints (and `--json` emits) for one folder. */
export interface ReconcileReport extends Pick<
  PassReport,
  | 'status'
  | 'error'
  | 'counts'
  | 'uploaded'
  | 'replaced'
  | 'deleted'
  | 'moved'
  | 'unchanged'
  | 'hashed'
  | 'skipped'
  | 'failed'
  | 'heldDeletes'
  | 'heldReason'
  | 'deleteQueue'
  | 'unmanagedRemote'
  | 'remoteFiles'
  | 'listingError'
  | 'localFiles'
  | 'ops'
> {
  folder: string;
  durationMs: number;
}

/** Runs one full reconciliation pass of a folder and reports what it did. */
export async function reconcileFolder(opts: ReconcileOptions): Promise<ReconcileReport> {
  const started = Date.now();
  const { manifest } = opts;
  const r = await runPass(opts, {
    dryRun: opts.dryRun,
    onPlan: opts.onPlan,
    onProgress: opts.onProgress,
    listing: opts.listing,
    scan: opts.scan,
  });
  if (!opts.dryRun) {
    const lastReconcileAt = new Date().toISOString();
    if (r.plan === undefined) {
      // Stopped before planning (root unavailable, credentials refused): nothing changed.
      manifest.updateStats({
        lastReconcileAt,
        lastReconcileResult: r.status === 'unavailable' ? 'unavailable' : 'failed',
        lastError: r.error,
      });
    } else {
      const firstFailed = r.failed[0];
      manifest.updateStats({
        lastReconcileAt,
        lastReconcileResult: r.failed.length > 0 ? `${r.failed.length} failed` : 'ok',
        ...(firstFailed ? { lastError: `${firstFailed.path}: ${firstFailed.error}` } : {}),
        heldDeletes: r.heldDeletes,
      });
      await manifest.flush();
    }
  }
  const report: ReconcileReport = {
    folder: opts.folderName,
    status: r.status,
    counts: r.counts,
    uploaded: r.uploaded,
    replaced: r.replaced,
    deleted: r.deleted,
    moved: r.moved,
    unchanged: r.unchanged,
    hashed: r.hashed,
    skipped: r.skipped,
    failed: r.failed,
    heldDeletes: r.heldDeletes,
    unmanagedRemote: r.unmanagedRemote,
    localFiles: r.localFiles,
    durationMs: Date.now() - started,
    ops: r.ops,
  };
  // Set only when known, so `sync --json` prints exactly what it printed before.
  if (r.heldReason !== undefined) report.heldReason = r.heldReason;
  if (r.deleteQueue !== undefined) report.deleteQueue = r.deleteQueue;
  if (r.remoteFiles !== undefined) report.remoteFiles = r.remoteFiles;
  if (r.listingError !== undefined) report.listingError = r.listingError;
  if (r.error !== undefined) report.error = r.error;
  // Everything the pass built for the whole folder is garbage now (see collectGarbageSoon). Asked
  // for after the stats' flush, not in the pass: a collection that ran during the flush held the
  // report back by its ~80 ms at 100k files (the daemon's "reconciliation done", a waiting sync).
  if (r.localFiles >= LARGE_FOLDER_FILES) collectGarbageSoon();
  return report;
}
