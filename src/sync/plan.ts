/**
 * The planner: a pure function from (local snapshot, manifest, optional remote listing) to the
 * operations that make the remote side equal the local folder. No I/O here, so every sync rule
 * is table-tested in test/sync/plan.test.ts.
 *
 * Longer than 350 lines on purpose: the three phases of `planSync` share one context and one set
 * of invariants; split across files they would have to be read side by side anyway.
 */
import type {
  LocalEntry,
  ManifestEntry,
  PendingDelete,
  PendingUpload,
  RemoteFile,
  Suspect,
  UnsettledAttempt,
} from '../types.js';
import { moveKey, uploadKey, type HashedEntry, type ReuploadReason, type SyncOp } from './ops.js';
import { addToList } from '../util/list-map.js';

/** The API's per-file limit; bigger files are reported and skipped. */
export const MAX_UPLOAD_BYTES = 500 * 1024 * 1024;

/** Server clock minus local clock in ms, known to lie in [lo, hi] (from the server's answers). */
export interface ClockBounds {
  lo: number;
  hi: number;
}

export type SkipReason = 'too-large' | 'needs-hash' | 'pending-intent';

export interface PlanSkip {
  path: string;
  reason: SkipReason;
  detail?: string;
}

/** Read access to the manifest's entries; a live view is enough (scoped plans never walk it all). */
export interface EntryLookup {
  get(path: string): ManifestEntry | undefined;
  entries(): IterableIterator<[string, ManifestEntry]>;
  keys(): IterableIterator<string>;
  values(): IterableIterator<ManifestEntry>;
  /** Whether an entry has this file ID: a store answers from its index (else the planner collects every entry's ID). */
  hasFileId?(fileId: string): boolean;
}

export interface ManifestView {
  entries: EntryLookup;
  pendingUploads: readonly PendingUpload[];
  pendingDeletes: readonly PendingDelete[];
  suspects?: readonly Suspect[] | undefined;
  unsettled?: readonly UnsettledAttempt[] | undefined;
}

export interface RemoteListing {
  /** Every remote file the listing returned, by ID. */
  files: ReadonlyMap<string, RemoteFile>;
  /** When the listing began: anything recorded after it cannot be judged by it. */
  startedAt: Date;
}

export interface PlanInput {
  /** Local files by relative path. A full snapshot, or (with `scope`) just the paths in scope that exist. */
  local: ReadonlyMap<string, LocalEntry>;
  manifest: ManifestView;
  /** The full remote listing, when this is a reconciliation. */
  remote?: RemoteListing | undefined;
  /** Only these paths are considered (watcher mode); omitted = the whole folder. */
  scope?: readonly string[] | undefined;
  /** Paths that exist but could not be read, and directories that could not be listed: never deleted. */
  unreadable?: ReadonlySet<string> | undefined;
  unreadableDirs?: readonly string[] | undefined;
  /** Paths with an operation in flight right now: left alone. */
  inFlight?: ReadonlySet<string> | undefined;
  /**
   * File IDs that other folders of this daemon own (they share the workspace): never adopted or
   * discarded for an intent of this folder, and not counted as unmanaged.
   */
  foreignIds?: ReadonlySet<string> | undefined;
  /**
   * Upload keys (uploadKey) of other folders' unresolved uploads (intents, unsettled attempts),
   * from a shared database: a file of that name and size may be theirs, so this folder's intents
   * of the same key wait, as for an upload of its own in flight.
   */
  foreignUploadKeys?: ReadonlySet<string> | undefined;
  /** The server's clock relative to ours; without it no remote file is provably an intent's. */
  clock?: ClockBounds | undefined;
  /** The workspace is declared exclusive to files-sync: unproven candidates are discarded, not kept as suspects. */
  exclusive?: boolean | undefined;
  /**
   * How long after the listing began the next reconciliation is due (the reconcile interval): a
   * listed copy whose `expires_at` falls before then is uploaded again now. 0/omitted = only
   * copies already past their expiry.
   */
  expiryMarginMs?: number | undefined;
  /** IDs missing from the listing that the API answered `file_expired` for: gone by expiry, not vanished. */
  expiredIds?: ReadonlySet<string> | undefined;
  /**
   * Local time (ms since the epoch): a removal queued by an earlier pass whose retention ends
   * after it can be taken back by a move. Omitted: none is.
   */
  now?: number | undefined;
}

export interface Plan {
  /**
   * The operations, in an order the executor keeps per path: ops on one path run one after
   * another in this order. Intent resolution (adopt, drop-intent, discard) comes before any
   * upload of the same path, so an old intent is cleared before its path is uploaded again.
   */
  ops: SyncOp[];
  skipped: PlanSkip[];
  /** Remote files neither in the manifest nor ours by intent: counted, never touched. */
  unmanagedRemote: number;
  /** Entries whose stat matched, so no hash was needed. */
  unchanged: number;
}

/** True when a local file must be hashed before planning: new, or its stat differs from the manifest. */
export function needsHash(local: LocalEntry, entry: ManifestEntry | undefined): boolean {
  if (local.size > MAX_UPLOAD_BYTES) return false;
  if (local.sha256 !== undefined) return false;
  return entry === undefined || !sameStat(local, entry);
}

/** Same size, mtime and inode: the content is taken as unchanged without hashing. */
export function sameStat(local: LocalEntry, entry: Pick<ManifestEntry, 'size' | 'mtimeMs' | 'ino'>): boolean {
  return local.size === entry.size && local.mtimeMs === entry.mtimeMs && local.ino === entry.ino;
}

function isUnder(p: string, dirs: readonly string[]): boolean {
  return dirs.some((d) => d === '' || p === d || p.startsWith(d.endsWith('/') ? d : `${d}/`));
}

/**
 * Plans the operations that bring the remote side in line with the local folder, in three pure
 * phases: intent resolution, classification of each path in scope, and move pairing.
 *
 * Invariants (plan.test.ts checks each with exact ops):
 * - Only a full remote listing resolves upload intents; without one, a path with an intent is
 *   skipped ('pending-intent'), never uploaded a second time.
 * - A path in flight, under an unreadable directory, or unreadable itself is never deleted.
 * - No file ID is deleted unless the manifest, a pending delete or one of our intents names it;
 *   remote files of other folders (`foreignIds`) are never adopted or discarded.
 * - A path's ops appear in the order they must run (see `Plan.ops`).
 * - A tracked copy that vanished or expired is uploaded again (`reupload`) and its ID never
 *   deleted; one whose `expires_at` falls within `expiryMarginMs` of the listing is uploaded again
 *   and its ID retired like a replaced one (the executor queues it with the superseded retention).
 */
export function planSync(input: PlanInput): Plan {
  const ctx = planContext(input);
  const intents = resolveIntents(ctx);
  const classified = classifyPaths(ctx, intents);
  const paired = pairMoves(ctx, classified.removed, classified.added);

  let unmanagedRemote = 0;
  // In scoped plans the listing is partial knowledge; counting unmanaged files only makes sense for a full pass.
  if (ctx.remote && !input.scope)
    for (const id of ctx.remote.files.keys()) if (!intents.claimedRemote.has(id)) unmanagedRemote++;

  return {
    ops: [...intents.ops, ...classified.ops, ...paired],
    skipped: classified.skipped,
    unmanagedRemote,
    unchanged: classified.unchanged,
  };
}

/** What every phase reads: the input with its defaults filled in and its lookups built once. */
interface PlanContext {
  input: PlanInput;
  entries: EntryLookup;
  remote: RemoteListing | undefined;
  inFlight: ReadonlySet<string>;
  unreadable: ReadonlySet<string>;
  unreadableDirs: readonly string[];
  intentsByPath: ReadonlyMap<string, PendingUpload>;
  /** The paths a scoped plan looks at (a watcher batch); undefined: every tracked, local and intended path. */
  scoped: ReadonlySet<string> | undefined;
  /** Whether the plan looks at this path. */
  inScope: (path: string) => boolean;
  /** What the listing says of the entry's remote copy (`alive` when there is no listing to judge by). */
  remoteState: (e: Pick<ManifestEntry, 'fileId' | 'uploadedAt'>) => RemoteState;
}

/** An entry's remote copy: alive, or why it must be uploaded again. */
type RemoteState = 'alive' | ReuploadReason;

/** The copy is gone for good (vanished or expired): nothing to delete, nothing to move. */
function isGone(state: RemoteState): state is 'vanished' | 'expired' {
  return state === 'vanished' || state === 'expired';
}

function planContext(input: PlanInput): PlanContext {
  const { entries } = input.manifest;
  const remote = input.remote;
  const intentsByPath = new Map(input.manifest.pendingUploads.map((p) => [p.path, p]));
  const scoped = input.scope === undefined ? undefined : new Set<string>(input.scope);
  // An entry recorded after the listing began may not be in it yet: it cannot be judged gone.
  const judgeable = (e: Pick<ManifestEntry, 'uploadedAt'>): boolean =>
    remote !== undefined && Date.parse(e.uploadedAt) < remote.startedAt.getTime();
  // expires_at is the server's time; judged at the earliest local moment it can mean, so a
  // server clock ahead of ours re-uploads early rather than late.
  const serverAhead = input.clock !== undefined && Number.isFinite(input.clock.hi) ? input.clock.hi : 0;
  const listedAt = remote?.startedAt.getTime() ?? 0;
  // The margin runs from the plan: the listing began earlier (it runs beside the scan), and the
  // next reconciliation is one interval after this one, not after the listing.
  const expiringBefore = Math.max(listedAt, input.now ?? listedAt) + (input.expiryMarginMs ?? 0);
  const expiryState = (f: RemoteFile): RemoteState => {
    if (typeof f.expiresAt !== 'string') return 'alive';
    const localExpiry = Date.parse(f.expiresAt) - serverAhead;
    if (Number.isNaN(localExpiry)) return 'alive';
    if (localExpiry <= listedAt) return 'expired';
    return localExpiry <= expiringBefore ? 'expiring' : 'alive';
  };
  return {
    input,
    entries,
    remote,
    inFlight: input.inFlight ?? new Set<string>(),
    unreadable: input.unreadable ?? new Set<string>(),
    unreadableDirs: input.unreadableDirs ?? [],
    intentsByPath,
    scoped,
    inScope: scoped === undefined ? () => true : (p) => scoped.has(p),
    remoteState: (e) => {
      if (remote === undefined) return 'alive';
      const f = remote.files.get(e.fileId);
      if (f !== undefined) return expiryState(f);
      if (!judgeable(e)) return 'alive';
      return input.expiredIds?.has(e.fileId) === true ? 'expired' : 'vanished';
    },
  };
}

interface ResolvedIntents {
  /** adopt / drop-intent per intent (oldest first), discards after their group, then delete-done. */
  ops: SyncOp[];
  /** Paths whose intent this plan resolves (adopted or dropped). */
  resolvedPaths: ReadonlySet<string>;
  /** Paths whose intent's remote file is adopted: nothing else is planned for them. */
  adopted: ReadonlySet<string>;
  /** Remote IDs that are ours (manifest, pending deletes, other folders, this plan's candidates). */
  claimedRemote: { has(fileId: string): boolean };
}

/** Whether an entry has the file ID: the lookup's own index when it has one, else a set of every entry's ID. */
function entryFileIds(entries: EntryLookup): (fileId: string) => boolean {
  if (entries.hasFileId) return (id) => entries.hasFileId!(id);
  const ids = new Set<string>();
  for (const e of entries.values()) ids.add(e.fileId);
  return (id) => ids.has(id);
}

/**
 * Phase 1: settle what interrupted uploads left behind. Needs a full listing; a watcher batch
 * resolves nothing here. Intents are grouped by upload key (name and size, all the API keeps):
 * a group's possible files are the unclaimed files of that key not created before its first
 * intent began by the server's clock. One is adopted only when it is provably the intent's: the
 * group is one still-wanted intent, it is the only possible file, and it was created at or after
 * the intent began even at the far end of the clock estimate. Every other possible file is a
 * suspect (shared workspace) or discarded (exclusive workspace). Unsettled attempts whose settle
 * time has passed are looked for the same way, then forgotten.
 */
function resolveIntents(ctx: PlanContext): ResolvedIntents {
  const { input, entries, remote, inFlight } = ctx;
  const ops: SyncOp[] = [];
  const resolvedPaths = new Set<string>();
  const adopted = new Set<string>();
  const claimedBesides = new Set<string>();
  if (!remote) return { ops, resolvedPaths, adopted, claimedRemote: claimedBesides };

  const pendingDeleteIds = input.manifest.pendingDeletes.map((d) => d.fileId);
  const suspects = input.manifest.suspects ?? [];
  // Only a listing needs to know every ID we own; a watcher batch must not walk 100k entries (nor
  // does a full pass over a store, which has an index of them).
  const isEntryId = entryFileIds(entries);
  for (const id of pendingDeleteIds) claimedBesides.add(id);
  for (const s of suspects) claimedBesides.add(s.fileId);
  for (const id of input.foreignIds ?? []) claimedBesides.add(id);
  const claimedRemote = { has: (id: string) => claimedBesides.has(id) || isEntryId(id) };
  const lo = input.clock?.lo ?? -Infinity;
  const hi = input.clock?.hi ?? Infinity;
  const unproven = (path: string, f: RemoteFile, why: string): SyncOp =>
    input.exclusive
      ? { kind: 'discard', path, fileId: f.id, suspect: true }
      : { kind: 'suspect', path, remote: f, why };
  const intents = [...ctx.intentsByPath.values()]
    .filter(
      (i) =>
        ctx.inScope(i.path) && !inFlight.has(i.path) && Date.parse(i.startedAt) < remote.startedAt.getTime(),
    )
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.path.localeCompare(b.path));
  const keyOf = (i: Pick<PendingUpload, 'remoteName' | 'size'>) => uploadKey(i.remoteName, i.size);
  const inFlightKeys = new Set(input.manifest.pendingUploads.filter((i) => inFlight.has(i.path)).map(keyOf));
  for (const key of input.foreignUploadKeys ?? []) inFlightKeys.add(key);
  const groups = new Map<string, PendingUpload[]>();
  for (const intent of intents) {
    // An upload of the same name and size is running: its file may be listed already, and
    // taking it for this intent would adopt or delete someone else's fresh upload. Wait.
    if (inFlightKeys.has(keyOf(intent))) continue;
    addToList(groups, keyOf(intent), intent);
  }
  const settling = (input.manifest.unsettled ?? []).filter(
    (u) =>
      Date.parse(u.settleAfter) <= remote.startedAt.getTime() &&
      !inFlightKeys.has(keyOf(u)) &&
      ctx.inScope(u.path),
  );
  const wantedKeys = new Set([...groups.keys(), ...settling.map(keyOf)]);
  // Indexed once: after a crash in a large initial sync there can be an intent per file.
  const remoteByKey = new Map<string, RemoteFile[]>();
  if (wantedKeys.size > 0) {
    for (const f of remote.files.values()) {
      const key = uploadKey(f.filename, f.sizeBytes);
      if (wantedKeys.has(key)) addToList(remoteByKey, key, f);
    }
  }
  const possibleSince = (key: string, startedAt: string): RemoteFile[] => {
    const start = Date.parse(startedAt);
    return (remoteByKey.get(key) ?? [])
      .filter((f) => !claimedRemote.has(f.id) && !(Date.parse(f.createdAt) < start + lo))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  };
  for (const [key, group] of groups) {
    const first = group[0]!;
    for (const intent of group) resolvedPaths.add(intent.path);
    const candidates = possibleSince(key, first.startedAt);
    for (const c of candidates) claimedBesides.add(c.id);
    const only = group.length === 1 && candidates.length === 1 ? candidates[0]! : undefined;
    const provable = only !== undefined && Date.parse(only.createdAt) >= Date.parse(first.startedAt) + hi;
    const local = input.local.get(first.path);
    const stillWanted =
      local !== undefined &&
      local.sha256 === first.sha256 &&
      entries.get(first.path)?.sha256 !== first.sha256;
    if (only && provable && stillWanted && local?.sha256 !== undefined) {
      const old = entries.get(first.path);
      ops.push({
        kind: 'adopt',
        path: first.path,
        intent: first,
        remote: only,
        local: local as HashedEntry,
        oldFileId: old && old.fileId !== only.id ? old.fileId : undefined,
      });
      adopted.add(first.path);
      continue;
    }
    for (const intent of group) ops.push({ kind: 'drop-intent', path: intent.path });
    const why =
      candidates.length > 1 || group.length > 1
        ? `${candidates.length} files of this name and size appeared after ${group.length} interrupted upload(s) began; which (if any) are ours cannot be told`
        : provable
          ? 'created by an interrupted upload whose content has changed since'
          : "created too close to the start of an interrupted upload to tell it from another client's file";
    // A provable copy nobody wants any more is ours: it goes even in a shared workspace.
    for (const c of candidates)
      ops.push(provable ? { kind: 'discard', path: first.path, fileId: c.id } : unproven(first.path, c, why));
  }
  for (const u of settling) {
    const late = possibleSince(keyOf(u), u.startedAt);
    for (const c of late) {
      claimedBesides.add(c.id);
      ops.push(
        unproven(
          u.path,
          c,
          'appeared after an unanswered upload had been given up and sent again (a late copy)',
        ),
      );
    }
    ops.push({ kind: 'settle', path: u.path, startedAt: u.startedAt });
  }
  if (input.exclusive)
    for (const s of suspects)
      if (remote.files.has(s.fileId))
        ops.push({ kind: 'discard', path: s.path, fileId: s.fileId, suspect: true });
  for (const id of pendingDeleteIds) if (!remote.files.has(id)) ops.push({ kind: 'delete-done', fileId: id });
  for (const s of suspects)
    if (!remote.files.has(s.fileId)) ops.push({ kind: 'delete-done', fileId: s.fileId });
  return { ops, resolvedPaths, adopted, claimedRemote };
}

interface Classified {
  /** reupload / refresh / replace, in scope order. */
  ops: SyncOp[];
  skipped: PlanSkip[];
  unchanged: number;
  /** Tracked paths gone locally (and not protected): deletes unless paired into a move. */
  removed: string[];
  /** Hashed local paths the manifest does not know: uploads unless paired into a move. */
  added: HashedEntry[];
}

/**
 * Phase 2: judge each path in scope on its own. Paths in flight or adopted in phase 1 are left
 * alone; a path with an intent phase 1 could not resolve is skipped; a vanished path is a removal
 * only if it is not unreadable; a path needing a hash it does not have is skipped, never guessed.
 */
function classifyPaths(ctx: PlanContext, intents: ResolvedIntents): Classified {
  const { input, entries, remoteState } = ctx;
  const out: Classified = { ops: [], skipped: [], unchanged: 0, removed: [], added: [] };
  const { ops, skipped } = out;
  // The judgement of one path; `entry` is its manifest entry and `local` its file, if any.
  const judge = (p: string, entry: ManifestEntry | undefined, local: LocalEntry | undefined): void => {
    if (ctx.inFlight.has(p) || intents.adopted.has(p)) return;
    if (ctx.intentsByPath.has(p) && !intents.resolvedPaths.has(p)) {
      // An unresolved intent may have created a remote file already; uploading again could duplicate it.
      skipped.push({ path: p, reason: 'pending-intent' });
      return;
    }
    if (local === undefined) {
      if (entry === undefined) return;
      if (ctx.unreadable.has(p) || isUnder(p, ctx.unreadableDirs)) return;
      out.removed.push(p);
      return;
    }
    if (local.size > MAX_UPLOAD_BYTES) {
      skipped.push({ path: p, reason: 'too-large', detail: `${local.size} bytes` });
      return;
    }
    if (entry === undefined) {
      if (local.sha256 === undefined) skipped.push({ path: p, reason: 'needs-hash' });
      else out.added.push(local as HashedEntry);
      return;
    }
    if (local.sha256 === undefined) {
      if (!sameStat(local, entry)) {
        skipped.push({ path: p, reason: 'needs-hash' });
        return;
      }
      const state = remoteState(entry);
      // Unchanged locally, but our remote copy is gone (deleted by someone, expired) or expiring.
      if (state !== 'alive') ops.push(reupload(p, { ...local, sha256: entry.sha256 }, entry, state));
      else out.unchanged++;
      return;
    }
    const hashed = local as HashedEntry;
    const state = remoteState(entry);
    if (hashed.sha256 === entry.sha256) {
      if (state !== 'alive') ops.push(reupload(p, hashed, entry, state));
      else if (!sameStat(hashed, entry)) ops.push({ kind: 'refresh', path: p, local: hashed });
      else out.unchanged++;
      return;
    }
    // New content over an expiring copy is a plain replace: the old ID is retired either way.
    if (isGone(state)) ops.push(reupload(p, hashed, entry, state));
    else ops.push({ kind: 'replace', path: p, local: hashed, oldFileId: entry.fileId });
  };
  if (ctx.scoped !== undefined) {
    for (const p of ctx.scoped) judge(p, entries.get(p), input.local.get(p));
    return out;
  }
  // Every tracked, then local, then intended path, each once and in that order, without a set of
  // them all: at 100k files building one took a quarter of a no-op plan.
  let tracked = 0;
  for (const [p, entry] of entries.entries()) {
    const local = input.local.get(p);
    if (local !== undefined) tracked++;
    judge(p, entry, local);
  }
  // When every local path was among the tracked ones, none is left: no lookup per file to learn it.
  if (tracked < input.local.size)
    for (const [p, local] of input.local) if (entries.get(p) === undefined) judge(p, undefined, local);
  for (const p of ctx.intentsByPath.keys())
    if (!input.local.has(p) && entries.get(p) === undefined) judge(p, undefined, undefined);
  return out;
}

function reupload(path: string, local: HashedEntry, entry: ManifestEntry, reason: ReuploadReason): SyncOp {
  return { kind: 'reupload', path, local, oldFileId: entry.fileId, reason };
}

/**
 * Phase 3: pair removals with additions into moves (rclone's march: pair first, then decide).
 * A move needs the same content and remote basename (`moveKey`) and a remote copy still alive (and
 * not expiring). An addition no removal of this plan pairs with may take back the ID of a removal
 * an earlier pass queued (`takeBackSources`): the unlink of a rename can fall due in a batch of
 * its own before its other half is seen.
 * Additions pair in path order with removals in scope order, then with queued removals in queue
 * order, so the pairing is deterministic.
 * Output: moves and uploads by added path, then deletes and forgets by removed path.
 */
function pairMoves(ctx: PlanContext, removed: readonly string[], added: HashedEntry[]): SyncOp[] {
  const { entries, remoteState } = ctx;
  const ops: SyncOp[] = [];
  const removedByKey = new Map<string, string[]>();
  for (const p of removed) {
    const e = entries.get(p)!;
    // A move keeps the file ID: a copy gone or expiring soon is not worth keeping.
    if (remoteState(e) !== 'alive') continue;
    addToList(removedByKey, moveKey(e.sha256, p), p);
  }
  const queuedByKey = added.length > 0 ? takeBackSources(ctx) : new Map<string, PendingDelete[]>();
  const movedFrom = new Set<string>();
  for (const local of [...added].sort((a, b) => a.path.localeCompare(b.path))) {
    const key = moveKey(local.sha256, local.path);
    const from = removedByKey.get(key)?.shift();
    const queued = from === undefined ? queuedByKey.get(key)?.shift() : undefined;
    if (from !== undefined) {
      movedFrom.add(from);
      ops.push({ kind: 'move', from, to: local.path, local });
    } else if (queued !== undefined) {
      ops.push({ kind: 'move', from: queued.path, to: local.path, local, queued });
    } else {
      ops.push({ kind: 'upload', path: local.path, local });
    }
  }
  for (const p of [...removed].sort()) {
    if (movedFrom.has(p)) continue;
    const e = entries.get(p)!;
    ops.push(
      isGone(remoteState(e))
        ? { kind: 'forget', path: p, fileId: e.fileId }
        : { kind: 'delete', path: p, fileId: e.fileId },
    );
  }
  return ops;
}

/**
 * Removals queued by earlier passes whose ID can be taken back, by `moveKey`: still within their
 * retention (so no delete was ever sent for them), recorded with their content hash, not expiring
 * within `expiryMarginMs`, and with a remote copy still alive by the listing, if there is one.
 */
function takeBackSources(ctx: PlanContext): Map<string, PendingDelete[]> {
  const out = new Map<string, PendingDelete[]>();
  const now = ctx.input.now;
  if (now === undefined) return out;
  for (const d of ctx.input.manifest.pendingDeletes) {
    if (d.reason !== 'removed' || d.sha256 === undefined || d.uploadedAt === undefined) continue;
    if (d.notBefore === undefined || !(Date.parse(d.notBefore) > now)) continue;
    // Like a tracked copy: one expiring before the next reconciliation is not worth keeping.
    if (d.expiresAt !== undefined && !(Date.parse(d.expiresAt) > now + (ctx.input.expiryMarginMs ?? 0)))
      continue;
    if (ctx.remoteState({ fileId: d.fileId, uploadedAt: d.uploadedAt }) !== 'alive') continue;
    addToList(out, moveKey(d.sha256, d.path), d);
  }
  return out;
}

/**
 * For a watcher batch: tracked paths outside `scope` that a new local path may have been renamed
 * from (same `moveKey`). A rename shows up as two events that may fall into different batches;
 * checking these paths too lets `pairMoves` turn the pair into a move (no upload) if the old path
 * is gone. Only new paths (not tracked) count.
 */
export function moveSources(
  local: ReadonlyMap<string, LocalEntry>,
  manifest: Iterable<[string, ManifestEntry]>,
  scope: ReadonlySet<string>,
  isTracked: (p: string) => boolean,
): string[] {
  const wanted = new Set<string>();
  for (const l of local.values())
    if (l.sha256 !== undefined && !isTracked(l.path)) wanted.add(moveKey(l.sha256, l.path));
  if (wanted.size === 0) return [];
  const out: string[] = [];
  for (const [p, e] of manifest) if (!scope.has(p) && wanted.has(moveKey(e.sha256, p))) out.push(p);
  return out;
}
