/**
 * One full reconciliation of one folder: scan, hash what changed, list the remote side, plan,
 * guard deletes, execute. `files-sync sync` runs it once; the daemon runs it at start and on a timer.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { LocalEntry, ManifestEntry, RemoteFile } from '../types.js';
import {
  countOps,
  MAX_UPLOAD_BYTES,
  needsHash,
  planSync,
  type Plan,
  type PlanSkip,
  type SyncOp,
} from './plan.js';
import { guardDeletes, type SafetyLimits } from './safety.js';
import { mapLimit } from './map-limit.js';
import { isFatalStatus, type Executor, type ExecutorManifest, type OpOutcome } from './execute.js';
import { scanFolder, type SkippedPath } from '../local/scan.js';
import { hashFile } from '../local/hash.js';
import type { PathFilter } from '../local/filter.js';

/** What reconciliation needs of the manifest beyond what the executor writes. */
export interface ReconcileManifest extends ExecutorManifest {
  entries(): IterableIterator<[string, ManifestEntry]>;
  readonly size: number;
  updateStats(patch: Record<string, unknown>): void;
}

export interface RemoteLister {
  listAll(opts?: { pageSize?: number; signal?: AbortSignal }): AsyncIterable<RemoteFile>;
}

export interface ReconcileOptions {
  folderName: string;
  root: string;
  filter: PathFilter;
  followSymlinks: boolean;
  manifest: ReconcileManifest;
  executor: Executor;
  client: RemoteLister;
  limits: SafetyLimits;
  allowMassDelete: boolean;
  dryRun: boolean;
  logger: Logger;
  /** File IDs other folders of this daemon own (same workspace): never adopted, discarded or counted as unmanaged here. */
  foreignIds?: () => Promise<ReadonlySet<string>>;
  /** Skip the remote listing (watcher-triggered passes); a full pass lists. */
  listRemote?: boolean;
  hashConcurrency?: number;
  signal?: AbortSignal;
  /** Called once the plan is known (progress bars size themselves from it). */
  onPlan?: (plan: Plan, held: number) => void;
  onHash?: (relPath: string) => void;
}

export interface ReconcileReport {
  folder: string;
  status: 'ok' | 'failed' | 'unavailable';
  counts: Record<SyncOp['kind'], number>;
  uploaded: number;
  replaced: number;
  deleted: number;
  moved: number;
  unchanged: number;
  hashed: number;
  skipped: Array<PlanSkip | SkippedPath | { path: string; reason: string; detail?: string }>;
  failed: Array<{ path: string; kind: string; error: string; httpStatus?: number }>;
  heldDeletes: number;
  heldReason?: string;
  unmanagedRemote: number;
  remoteFiles?: number;
  localFiles: number;
  durationMs: number;
  error?: string;
  /** Operations planned (dry run) or run. */
  ops: SyncOp[];
}

/** Runs one full reconciliation pass of a folder and reports what it did. */
export async function reconcileFolder(opts: ReconcileOptions): Promise<ReconcileReport> {
  const started = Date.now();
  const { manifest, logger } = opts;
  const base = {
    folder: opts.folderName,
    counts: countOps([]),
    uploaded: 0,
    replaced: 0,
    deleted: 0,
    moved: 0,
    unchanged: 0,
    hashed: 0,
    skipped: [] as ReconcileReport['skipped'],
    failed: [] as ReconcileReport['failed'],
    heldDeletes: 0,
    unmanagedRemote: 0,
    localFiles: 0,
    ops: [] as SyncOp[],
  };

  let scan;
  try {
    scan = await scanFolder(opts.root, {
      filter: opts.filter,
      followSymlinks: opts.followSymlinks,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (err) {
    // A missing or unreadable root must never look like "every file was deleted".
    const message = (err as Error).message;
    logger.error({ root: opts.root, err: message }, 'folder unavailable; nothing changed, no deletes');
    if (!opts.dryRun)
      manifest.updateStats({
        lastReconcileAt: new Date().toISOString(),
        lastReconcileResult: 'unavailable',
        lastError: message,
      });
    return { ...base, status: 'unavailable', error: message, durationMs: Date.now() - started };
  }

  const local = new Map<string, LocalEntry>(scan.entries);
  const unreadable = new Set<string>();
  const skippedScan = scan.skipped;
  for (const s of skippedScan)
    if (s.reason === 'unreadable' || s.reason === 'vanished') unreadable.add(s.path);

  // Hash only what is new or whose stat changed; also anything with a pending intent to resolve.
  const intents = new Set(manifest.pendingUploads().map((p) => p.path));
  const toHash = [...local.values()].filter(
    (l) =>
      needsHash(l, manifest.get(l.path), MAX_UPLOAD_BYTES) ||
      (intents.has(l.path) && l.size <= MAX_UPLOAD_BYTES),
  );
  let hashed = 0;
  const hashSkipped: ReconcileReport['skipped'] = [];
  await mapLimit(toHash, opts.hashConcurrency ?? 4, async (l) => {
    const abs = path.join(opts.root, ...l.path.split('/'));
    try {
      const h = await hashFile(abs, {
        expected: { size: l.size, mtimeMs: l.mtimeMs, ino: l.ino },
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      hashed++;
      opts.onHash?.(l.path);
      local.set(l.path, { ...l, sha256: h.sha256 });
    } catch (err) {
      // Changed while hashing, vanished, or unreadable: leave it for the next pass, delete nothing.
      local.delete(l.path);
      unreadable.add(l.path);
      hashSkipped.push({ path: l.path, reason: 'changed-or-unreadable', detail: (err as Error).message });
    }
  });

  let remote: { files: Map<string, RemoteFile>; startedAt: Date } | undefined;
  if (opts.listRemote !== false) {
    const startedAt = new Date();
    const files = new Map<string, RemoteFile>();
    try {
      for await (const f of opts.client.listAll({
        pageSize: 1000,
        ...(opts.signal ? { signal: opts.signal } : {}),
      }))
        files.set(f.id, f);
      remote = { files, startedAt };
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (isFatalStatus(status)) {
        // A refused key fails every request: say so once instead of failing each file.
        const message = (err as Error).message;
        logger.error({ status, err: message }, 'the Files API refused our credentials');
        if (!opts.dryRun)
          manifest.updateStats({
            lastReconcileAt: new Date().toISOString(),
            lastReconcileResult: 'failed',
            lastError: message,
          });
        return {
          ...base,
          status: 'failed',
          error: message,
          localFiles: scan.entries.size,
          hashed,
          durationMs: Date.now() - started,
        };
      }
      // Without a complete listing we cannot resolve intents or spot vanished copies; the rest is safe.
      logger.warn({ err: (err as Error).message }, 'remote listing failed; reconciling local changes only');
    }
  }

  const entries = new Map(manifest.entries());
  const planInput: Parameters<typeof planSync>[0] = {
    local,
    manifest: {
      entries,
      pendingUploads: manifest.pendingUploads(),
      pendingDeletes: manifest.pendingDeletes(),
    },
    unreadable,
    unreadableDirs: scan.unreadableDirs ?? [],
    inFlight: opts.executor.inFlight(),
  };
  if (remote) {
    planInput.remote = remote;
    if (opts.foreignIds) planInput.foreignIds = await opts.foreignIds();
  }
  const plan = planSync(planInput);
  const verdict = guardDeletes({
    ops: plan.ops,
    trackedCount: entries.size,
    localCount: scan.entries.size,
    limits: opts.limits,
    allowMassDelete: opts.allowMassDelete,
  });
  if (verdict.held.length > 0)
    logger.warn({ held: verdict.held.length, reason: verdict.reason }, 'deletes held by the safety guard');
  opts.onPlan?.(plan, verdict.held.length);

  const report: ReconcileReport = {
    ...base,
    status: 'ok',
    counts: countOps(verdict.allowed),
    unchanged: plan.unchanged,
    hashed,
    skipped: [...skippedScan, ...hashSkipped, ...plan.skipped],
    heldDeletes: verdict.held.length,
    unmanagedRemote: plan.unmanagedRemote,
    localFiles: scan.entries.size,
    durationMs: 0,
    ops: verdict.allowed,
  };
  if (verdict.reason) report.heldReason = verdict.reason;
  if (remote) report.remoteFiles = remote.files.size;

  if (!opts.dryRun) {
    const result = await opts.executor.run(verdict.allowed);
    await opts.executor.drainPendingDeletes();
    tally(report, result.outcomes);
    manifest.updateStats({
      lastReconcileAt: new Date().toISOString(),
      lastReconcileResult: report.failed.length > 0 ? `${report.failed.length} failed` : 'ok',
      ...(report.failed[0] ? { lastError: `${report.failed[0].path}: ${report.failed[0].error}` } : {}),
      heldDeletes: verdict.held.length,
    });
    await manifest.flush();
  }
  if (report.failed.length > 0) report.status = 'failed';
  report.durationMs = Date.now() - started;
  return report;
}

/** Folds executor outcomes into the report's counters. */
export function tally(
  report: Pick<ReconcileReport, 'uploaded' | 'replaced' | 'deleted' | 'moved' | 'failed' | 'skipped'>,
  outcomes: readonly OpOutcome[],
): void {
  for (const o of outcomes) {
    const p = o.op.kind === 'move' ? o.op.to : o.op.kind === 'delete-done' ? o.op.fileId : o.op.path;
    if (o.status === 'done') {
      if (o.op.kind === 'upload' || o.op.kind === 'reupload' || o.op.kind === 'adopt') report.uploaded++;
      else if (o.op.kind === 'replace') report.replaced++;
      else if (o.op.kind === 'delete') report.deleted++;
      else if (o.op.kind === 'move') report.moved++;
    } else if (o.status === 'refused') {
      const s: { path: string; reason: string; detail?: string } = { path: p, reason: 'refused-by-api' };
      if (o.error) s.detail = o.error;
      report.skipped.push(s);
    } else if (o.status === 'changed') {
      report.skipped.push({ path: p, reason: 'changed-during-upload' });
    } else {
      const f: ReconcileReport['failed'][number] = { path: p, kind: o.op.kind, error: o.error ?? o.status };
      if (o.httpStatus !== undefined) f.httpStatus = o.httpStatus;
      report.failed.push(f);
    }
  }
}
