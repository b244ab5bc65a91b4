/**
 * One sync pass: local state -> (remote listing) -> plan -> delete guard -> execute -> tally. A
 * reconciliation runs it over the whole folder with a listing; a watcher batch runs it over the
 * paths that changed. The guard judges the whole plan before any op runs.
 */
import type { Logger } from 'pino';
import type { RemoteFile } from '../types.js';
import type { PathFilter } from '../local/filter.js';
import type { PendingScan } from '../local/scan-thread.js';
import { errorMessage, errorStatus } from '../errors.js';
import { planSync, type EntryLookup, type Plan, type PlanInput } from './plan.js';
import { countOps, describeOp, isUploadedOrAdopted, opLabel, type OpKind, type SyncOp } from './ops.js';
import { withoutForeignClaims, type ForeignClaims } from './foreign-claims.js';
import { guardDeletes, type SafetyLimits } from './safety.js';
import { isFatalStatus, isGuarded, type DrainResult, type Executor, type OpOutcome } from './execute.js';
import type { ClockBounds } from './plan.js';
import type { StateStore } from '../state/store.js';
import { FileExpiredError } from '../api/errors.js';
import { mapLimit } from './map-limit.js';
import { childAbort } from '../util/child-abort.js';
import {
  checkPaths,
  scanAll,
  type LocalSkip,
  type LocalState,
  type RootUnavailable,
  type ScanProgress,
} from './local-state.js';

/** A pass reads and writes the folder's state through the state store interface (any backend). */
export type PassManifest = StateStore;

export interface RemoteLister {
  listAll(opts?: { pageSize?: number; signal?: AbortSignal | undefined }): AsyncIterable<RemoteFile>;
  /** The same files a page at a time, when the client offers it (a full listing keeps them all). */
  listPages?:
    ((opts?: { pageSize?: number; signal?: AbortSignal }) => AsyncIterable<RemoteFile[]>) | undefined;
  /** Metadata of one file; a 404 `file_expired` (FileExpiredError) tells an expiry from a vanished copy. */
  retrieve?: ((id: string, opts?: { signal?: AbortSignal }) => Promise<RemoteFile>) | undefined;
  /** Server clock minus ours, as far as the server's answers tell (FilesClient has it). */
  clockOffset?: (() => ClockBounds | undefined) | undefined;
}

/** One folder as a pass sees it. */
export interface PassContext {
  root: string;
  filter: PathFilter;
  followSymlinks: boolean;
  manifest: PassManifest;
  executor: Executor;
  client: RemoteLister;
  limits: SafetyLimits;
  allowMassDelete: boolean;
  logger: Logger;
  /** File IDs other folders of this daemon own (same workspace): never adopted, discarded or counted as unmanaged here. */
  foreignIds?: (() => Promise<ReadonlySet<string>>) | undefined;
  /**
   * Other folders' claims in a shared database (backend postgres), asked after the listing and
   * again right before execution: other hosts record files while this pass runs.
   */
  foreign?: ForeignClaims | undefined;
  /** The workspace is declared exclusive to files-sync (api.workspaceExclusive). */
  exclusive?: boolean | undefined;
  /** Copies expiring within this long of a listing are uploaded again (the reconcile interval). */
  expiryMarginMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface PassOptions {
  /** The paths of a watcher batch; undefined = the whole folder (a reconciliation). */
  paths?: readonly string[] | undefined;
  /** Plan and guard only; change nothing. */
  dryRun?: boolean | undefined;
  /** Called once the local side is read, before planning (a batch warns about skips from it). */
  onLocal?: ((state: LocalState) => void) | undefined;
  /** Called as a full pass scans, hashes and lists (progress displays). */
  onProgress?: ((event: ScanProgress) => void) | undefined;
  /** Called once the plan is known (progress bars size themselves from it). */
  onPlan?: ((plan: Plan, held: number) => void) | undefined;
  /** A full pass's listing started already (`startListing`), e.g. while the session opened. */
  listing?: PendingListing | undefined;
  /** A full pass's walk of the folder started already (`startThreadScan`), as the listing. */
  scan?: PendingScan | undefined;
}

export interface PassFailure {
  path: string;
  kind: string;
  error: string;
  httpStatus?: number;
}

export interface PassReport {
  /** 'unavailable': the root could not be read; 'failed': the API refused us or an op failed. */
  status: 'ok' | 'failed' | 'unavailable';
  error?: string | undefined;
  /** Operations cleared to run (run unless a dry run), by kind. */
  counts: Record<OpKind, number>;
  uploaded: number;
  replaced: number;
  deleted: number;
  moved: number;
  unchanged: number;
  hashed: number;
  /** Local skips, plan skips, then ops the API refused or whose file changed while uploading. */
  skipped: LocalSkip[];
  failed: PassFailure[];
  heldDeletes: number;
  heldReason?: string | undefined;
  /** True when this pass started a hold (it is announced once, not on every batch). */
  newHold?: boolean | undefined;
  /** The delete queue after the pass (undefined for a dry run). */
  deleteQueue?: DrainResult | undefined;
  unmanagedRemote: number;
  remoteFiles?: number | undefined;
  /** Why a full pass has no complete remote listing (intents unresolved, vanished copies unseen). */
  listingError?: string | undefined;
  localFiles: number;
  /** Operations cleared to run. */
  ops: SyncOp[];
  plan?: Plan | undefined;
  outcomes: OpOutcome[];
  /** Paths the executor wants looked at again (changed, ambiguous or failed). */
  retryLater: string[];
}

function emptyReport(): PassReport {
  return {
    status: 'ok',
    counts: countOps([]),
    uploaded: 0,
    replaced: 0,
    deleted: 0,
    moved: 0,
    unchanged: 0,
    hashed: 0,
    skipped: [],
    failed: [],
    heldDeletes: 0,
    unmanagedRemote: 0,
    localFiles: 0,
    ops: [],
    outcomes: [],
    retryLater: [],
  };
}

type Listing =
  { files: Map<string, RemoteFile>; startedAt: Date } | { refused: string } | { incomplete: string };

/** A full pass's remote listing under way (see `startListing`). */
export interface PendingListing {
  result: Promise<Listing>;
  cancel(): void;
}

/** What a listing needs of a pass. */
type ListingContext = Pick<PassContext, 'client' | 'logger' | 'signal'>;

/** Lists every remote file; refused or incomplete when the listing failed (the latter spares the local side). */
async function listRemote(ctx: ListingContext, signal: AbortSignal): Promise<Listing> {
  const startedAt = new Date();
  const files = new Map<string, RemoteFile>();
  try {
    const { client } = ctx;
    if (client.listPages) {
      for await (const page of client.listPages({ pageSize: 1000, signal }))
        for (const f of page) files.set(f.id, f);
    } else for await (const f of client.listAll({ pageSize: 1000, signal })) files.set(f.id, f);
    return { files, startedAt };
  } catch (err) {
    // Cancelled (the scan found the folder unavailable, a stop, Ctrl-C): nothing failed to say.
    if (signal.aborted) return { incomplete: 'cancelled' };
    const status = errorStatus(err);
    if (isFatalStatus(status)) {
      // A refused key fails every request: say so once instead of failing each file.
      ctx.logger.error({ status, err: errorMessage(err) }, 'the Files API refused our credentials');
      return { refused: errorMessage(err) };
    }
    // Without a complete listing we cannot resolve intents or spot vanished copies; the rest is safe.
    ctx.logger.warn({ err: errorMessage(err) }, 'remote listing failed; reconciling local changes only');
    return { incomplete: errorMessage(err) };
  }
}

/**
 * Starts the remote listing of a full pass, to run while the folder is scanned (or, for the first
 * pass of a session, while its state is read): the listing waits on the server and the scan on
 * the disk, so a no-op restart of 100k files takes the longer of the two, not their sum (rclone
 * lists both sides at once too). Starting it first only makes the listing's start time earlier,
 * which every judgement against it treats conservatively (see `planSync`); what other folders
 * claim is still read after it ends (`foreignOf`).
 */
export function startListing(ctx: ListingContext): PendingListing {
  const { controller, release } = childAbort(ctx.signal);
  return { result: listRemote(ctx, controller.signal).finally(release), cancel: () => controller.abort() };
}

/**
 * Runs one pass over the whole folder (`opts.paths` undefined: scan, list, plan everything, then
 * retry recorded pending deletes) or over a watcher batch (stat those paths, no listing).
 */
export async function runPass(ctx: PassContext, opts: PassOptions = {}): Promise<PassReport> {
  const full = opts.paths === undefined;
  const report = emptyReport();
  const listing = full ? (opts.listing ?? startListing(ctx)) : undefined;
  let state: LocalState | RootUnavailable;
  let refused: string | undefined;
  let expiring: Promise<Set<string> | undefined> | undefined;
  if (listing) {
    // A refused key fails the whole pass: reading and hashing the folder stop as soon as the
    // listing says so, so a large new folder is not hashed to learn that the key was revoked.
    const local = childAbort(ctx.signal);
    void listing.result.then((l) => {
      if ('refused' in l) local.controller.abort((refused = l.refused));
    });
    // It needs only the listing and the state, so it runs while the folder is still read: a
    // lookup per listed file, 100k of them on the main thread at a no-op restart of 100k files.
    expiring = listing.result.then((l) => ('files' in l ? expiredAmong(ctx, l) : undefined));
    // Awaited below unless the pass ends first (its few probes, if any, then go unused).
    expiring.catch(() => undefined);
    try {
      state = await scanAll({
        ...ctx,
        signal: local.controller.signal,
        onProgress: opts.onProgress,
        scan: opts.scan,
      });
    } catch (err) {
      listing.cancel();
      throw err;
    } finally {
      local.release();
    }
  } else state = await checkPaths(ctx, opts.paths ?? []);
  if ('unavailable' in state) {
    listing?.cancel();
    if (refused !== undefined) return { ...report, status: 'failed', error: refused };
    return { ...report, status: 'unavailable', error: state.unavailable };
  }
  report.localFiles = state.localFiles ?? 0;
  report.hashed = state.hashed;

  let remote: PlanInput['remote'];
  if (listing) {
    opts.onProgress?.({ phase: 'listing' });
    const listed = await listing.result;
    // What the pass read before the refusal stopped it is reported with it.
    if ('refused' in listed) return { ...report, status: 'failed', error: listed.refused };
    if ('incomplete' in listed) report.listingError = listed.incomplete;
    else remote = listed;
  }
  opts.onLocal?.(state);

  // Everything asynchronous first: the planner then reads the state in one synchronous call, so
  // it plans over the store's own maps (no copy of 100k entries) and sees one consistent state.
  const foreign = remote ? await foreignOf(ctx) : {};
  const expiredIds = remote ? await expiring : undefined;
  const plan = planSync({
    local: state.local,
    manifest: {
      entries: liveEntries(ctx.manifest),
      pendingUploads: ctx.manifest.pendingUploads(),
      pendingDeletes: ctx.manifest.pendingDeletes(),
      suspects: ctx.manifest.suspects(),
      unsettled: ctx.manifest.unsettled(),
    },
    clock: remote ? ctx.client.clockOffset?.() : undefined,
    exclusive: ctx.exclusive,
    scope: state.scope,
    remote,
    unreadable: state.unreadable,
    unreadableDirs: state.unreadableDirs,
    inFlight: ctx.executor.inFlight(),
    ...foreign,
    expiryMarginMs: ctx.expiryMarginMs,
    expiredIds,
    now: ctx.executor.now().getTime(),
  });
  const guard = ctx.executor.guard;
  const planned = new Set(plan.ops.flatMap((o) => (o.kind === 'delete' ? [o.path] : [])));
  // Held paths outside this plan still count; a full pass re-plans every one of them.
  let heldElsewhere = 0;
  if (!full) for (const p of guard.heldPaths) if (!planned.has(p)) heldElsewhere++;
  // Queued removals this plan takes back by a move are no removals any more.
  let takenBack = 0;
  for (const o of plan.ops)
    if (o.kind === 'move' && o.queued !== undefined && isGuarded(o.queued)) takenBack++;
  const verdict = guardDeletes({
    ops: plan.ops,
    trackedCount: ctx.manifest.size - heldElsewhere,
    localCount: state.localFiles,
    limits: ctx.limits,
    allowMassDelete: ctx.allowMassDelete,
    load: {
      queued: ctx.executor.queuedRemovals() - takenBack + heldElsewhere,
      recentlySent: guard.recentlySent(),
    },
  });
  if (opts.dryRun !== true) {
    if (full) guard.heldPaths.clear();
    // A path this pass looked at and did not hold is no longer held (restored, or released).
    for (const p of state.scope ?? []) guard.heldPaths.delete(p);
    for (const d of verdict.held) guard.heldPaths.add(d.path);
    if (verdict.held.length > 0) report.newHold = guard.setHeld(verdict.reason);
    else if (guard.heldPaths.size === 0) guard.setHeld(undefined);
    if (report.newHold)
      ctx.logger.warn(
        { held: guard.heldPaths.size, reason: verdict.reason },
        'deletes held by the safety guard; none is sent until released',
      );
  } else if (verdict.held.length > 0) {
    ctx.logger.warn(
      { held: verdict.held.length, reason: verdict.reason },
      'deletes would be held by the safety guard',
    );
  }
  opts.onPlan?.(plan, verdict.held.length);

  report.plan = plan;
  report.counts = countOps(verdict.allowed);
  report.unchanged = plan.unchanged;
  report.skipped = [...state.skipped, ...plan.skipped];
  report.heldDeletes = verdict.held.length;
  report.heldReason = verdict.reason;
  report.unmanagedRemote = plan.unmanagedRemote;
  report.remoteFiles = remote?.files.size;
  report.ops = verdict.allowed;

  if (opts.dryRun !== true && (full || verdict.allowed.length > 0)) {
    let ops = verdict.allowed;
    if (ctx.foreign) {
      // Planned from claims read after the listing; asked again now, right before acting.
      const checked = await withoutForeignClaims(ops, ctx.foreign);
      for (const op of checked.dropped)
        ctx.logger.warn(
          { op: describeOp(op) },
          'another folder recorded this remote file meanwhile: left to it, not adopted or deleted',
        );
      ops = checked.ops;
    }
    const result = await ctx.executor.run(ops);
    report.outcomes = result.outcomes;
    report.retryLater = result.retryLater;
    tally(report, result.outcomes);
  }
  if (opts.dryRun !== true) {
    // Deletes only ever leave through the delayed queue, judged as a whole.
    const drained = await ctx.executor.drainPendingDeletes({ allowMassDelete: ctx.allowMassDelete });
    report.deleteQueue = drained;
    if (drained.held > report.heldDeletes) {
      report.heldDeletes = drained.held;
      report.heldReason = drained.heldReason;
      if (guard.setHeld(drained.heldReason)) {
        report.newHold = true;
        ctx.logger.warn(
          { held: drained.held, reason: drained.heldReason },
          'deletes held by the safety guard; none is sent until released',
        );
      }
    }
  }
  if (report.failed.length > 0) report.status = 'failed';
  return report;
}

/**
 * What other folders claim, read after the listing (so any file listed was recorded, or its
 * intent written, before this read): the other folders' manifests of this process, and the
 * shared database's claims.
 */
async function foreignOf(ctx: PassContext): Promise<Pick<PlanInput, 'foreignIds' | 'foreignUploadKeys'>> {
  const local = ctx.foreignIds ? await ctx.foreignIds() : undefined;
  if (!ctx.foreign) return { foreignIds: local };
  const shared = await ctx.foreign.snapshot();
  return {
    foreignIds: local === undefined ? shared.ids : new Set([...local, ...shared.ids]),
    foreignUploadKeys: shared.uploadKeys,
  };
}

/** Vanished copies asked about one by one: bounds the cost when many went at once. */
const EXPIRY_PROBES = 100;

/**
 * Which tracked IDs missing from the listing expired (404 `file_expired`) rather than vanished:
 * the re-upload is the same either way, only its reason (and the consumers' event) differs.
 * Asks about at most EXPIRY_PROBES of them; any other answer leaves the ID "vanished".
 */
async function expiredAmong(
  ctx: PassContext,
  remote: { files: ReadonlyMap<string, RemoteFile>; startedAt: Date },
): Promise<Set<string>> {
  const expired = new Set<string>();
  const retrieve = ctx.client.retrieve?.bind(ctx.client);
  if (!retrieve) return expired;
  // Usually every tracked ID is listed: counting the listed ones (a lookup each) costs a tenth of
  // walking every entry (100k entries: 10 ms, not 130 ms). IDs are unique, so equal counts mean
  // none is missing.
  let trackedListed = 0;
  for (const id of remote.files.keys()) if (ctx.manifest.findByFileId(id) !== undefined) trackedListed++;
  if (trackedListed === ctx.manifest.size) return expired;
  const missing: string[] = [];
  for (const [, e] of ctx.manifest.entries()) {
    if (missing.length >= EXPIRY_PROBES) break;
    if (!remote.files.has(e.fileId) && Date.parse(e.uploadedAt) < remote.startedAt.getTime())
      missing.push(e.fileId);
  }
  await mapLimit(missing, 4, async (id) => {
    try {
      await retrieve(id, ctx.signal ? { signal: ctx.signal } : {});
    } catch (err) {
      if (err instanceof FileExpiredError) expired.add(id);
    }
  });
  return expired;
}

/** A live, copy-free view of a manifest's entries for the planner. */
function liveEntries(
  manifest: Pick<PassManifest, 'get' | 'paths' | 'entries' | 'findByFileId' | 'fileIdsDistinct'>,
): EntryLookup {
  return {
    get: (p) => manifest.get(p),
    // Where two entries share an ID the index may miss one: the planner then collects them all.
    ...(manifest.fileIdsDistinct
      ? { hasFileId: (id: string) => manifest.findByFileId(id) !== undefined }
      : {}),
    entries: () => manifest.entries(),
    keys: () => manifest.paths(),
    *values() {
      for (const [, e] of manifest.entries()) yield e;
    },
  };
}

/** Folds executor outcomes into the report's counters. */
function tally(
  report: Pick<PassReport, 'uploaded' | 'replaced' | 'deleted' | 'moved' | 'failed' | 'skipped'>,
  outcomes: readonly OpOutcome[],
): void {
  for (const o of outcomes) {
    const p = opLabel(o.op);
    if (o.status === 'done') {
      if (isUploadedOrAdopted(o.op)) {
        if (o.op.kind === 'replace') report.replaced++;
        else report.uploaded++;
      } else if (o.op.kind === 'delete') report.deleted++;
      else if (o.op.kind === 'move') report.moved++;
    } else if (o.status === 'refused') {
      const s: LocalSkip = { path: p, reason: 'refused-by-api' };
      if (o.error) s.detail = o.error;
      report.skipped.push(s);
    } else if (o.status === 'changed') {
      report.skipped.push({ path: p, reason: 'changed-during-upload' });
    } else {
      const f: PassFailure = { path: p, kind: o.op.kind, error: o.error ?? o.status };
      if (o.httpStatus !== undefined) f.httpStatus = o.httpStatus;
      report.failed.push(f);
    }
  }
}
