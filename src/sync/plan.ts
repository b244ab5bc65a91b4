/**
 * The planner: a pure function from (local snapshot, manifest, optional remote listing) to the
 * operations that make the remote side equal the local folder. No I/O here, so every sync rule
 * is table-tested in test/sync/plan.test.ts.
 */
import path from 'node:path';
import type { LocalEntry, ManifestEntry, PendingDelete, PendingUpload, RemoteFile } from '../types.js';

/** The API's per-file limit; bigger files are reported and skipped. */
export const MAX_UPLOAD_BYTES = 500 * 1024 * 1024;

/** How far before an intent's start a remote created_at may lie and still count as its upload. */
export const INTENT_CLOCK_SLACK_MS = 5 * 60_000;

export type SyncOp =
  /** A path the manifest does not know: upload it. */
  | { kind: 'upload'; path: string; local: HashedEntry }
  /** Content changed: upload the new version, record it, then delete `oldFileId`. */
  | { kind: 'replace'; path: string; local: HashedEntry; oldFileId: string }
  /** The remote copy vanished (deleted by someone else): upload again, nothing to delete. */
  | { kind: 'reupload'; path: string; local: HashedEntry; vanishedFileId: string }
  /** The path is gone locally: delete its remote copy. */
  | { kind: 'delete'; path: string; fileId: string }
  /** Same content and basename at a new path: only the manifest key changes. */
  | { kind: 'move'; from: string; to: string; local: HashedEntry }
  /** Stat changed but content did not: update the stat cache only. */
  | { kind: 'refresh'; path: string; local: HashedEntry }
  /** The path is gone locally and its remote copy is gone too: forget it. */
  | { kind: 'forget'; path: string; fileId: string }
  /** A pending upload intent whose remote file exists: record it instead of uploading again. */
  | {
      kind: 'adopt';
      path: string;
      intent: PendingUpload;
      remote: RemoteFile;
      local: HashedEntry;
      oldFileId?: string;
    }
  /** A remote file created by an interrupted upload that nobody will use: delete it. */
  | { kind: 'discard'; path: string; fileId: string }
  /** Drop a pending intent that left nothing behind (or whose file changed since). */
  | { kind: 'drop-intent'; path: string }
  /** A pending delete whose file is already gone remotely. */
  | { kind: 'delete-done'; fileId: string };

export type HashedEntry = LocalEntry & { sha256: string };

export type SkipReason = 'too-large' | 'needs-hash' | 'pending-intent';

export interface PlanSkip {
  path: string;
  reason: SkipReason;
  detail?: string;
}

/** Read access to the manifest's entries; a live view is enough (scoped plans never walk it all). */
export interface EntryLookup {
  get(path: string): ManifestEntry | undefined;
  keys(): IterableIterator<string>;
  values(): IterableIterator<ManifestEntry>;
}

export interface ManifestView {
  entries: EntryLookup;
  pendingUploads: readonly PendingUpload[];
  pendingDeletes: readonly PendingDelete[];
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
  remote?: RemoteListing;
  /** Only these paths are considered (watcher mode); omitted = the whole folder. */
  scope?: readonly string[];
  /** Paths that exist but could not be read, and directories that could not be listed: never deleted. */
  unreadable?: ReadonlySet<string>;
  unreadableDirs?: readonly string[];
  /** Paths with an operation in flight right now: left alone. */
  inFlight?: ReadonlySet<string>;
  /**
   * File IDs that other folders of this daemon own (they share the workspace): never adopted or
   * discarded for an intent of this folder, and not counted as unmanaged.
   */
  foreignIds?: ReadonlySet<string>;
  maxUploadBytes?: number;
}

export interface Plan {
  ops: SyncOp[];
  skipped: PlanSkip[];
  /** Remote files neither in the manifest nor ours by intent: counted, never touched. */
  unmanagedRemote: number;
  /** Entries whose stat matched, so no hash was needed. */
  unchanged: number;
}

/** True when a local file must be hashed before planning: new, or its stat differs from the manifest. */
export function needsHash(
  local: LocalEntry,
  entry: ManifestEntry | undefined,
  maxUploadBytes = MAX_UPLOAD_BYTES,
): boolean {
  if (local.size > maxUploadBytes) return false;
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

function remoteBasename(p: string): string {
  return path.posix.basename(p);
}

/** Plans the operations that bring the remote side in line with the local folder. */
export function planSync(input: PlanInput): Plan {
  const maxBytes = input.maxUploadBytes ?? MAX_UPLOAD_BYTES;
  const { entries } = input.manifest;
  const inFlight = input.inFlight ?? new Set<string>();
  const unreadable = input.unreadable ?? new Set<string>();
  const unreadableDirs = input.unreadableDirs ?? [];
  const remote = input.remote;
  const ops: SyncOp[] = [];
  const skipped: PlanSkip[] = [];
  let unchanged = 0;

  const intentsByPath = new Map(input.manifest.pendingUploads.map((p) => [p.path, p]));
  const pendingDeleteIds = new Set(input.manifest.pendingDeletes.map((d) => d.fileId));

  const scope: Iterable<string> =
    input.scope ?? new Set<string>([...entries.keys(), ...input.local.keys(), ...intentsByPath.keys()]);
  const scopeSet = new Set(scope);

  const judgeable = (e: ManifestEntry): boolean =>
    remote !== undefined && Date.parse(e.uploadedAt) < remote.startedAt.getTime();
  const remoteGone = (e: ManifestEntry): boolean => judgeable(e) && !remote!.files.has(e.fileId);

  // 1. Pending intents: only a full listing can tell what an interrupted upload left behind.
  const resolvedIntentPaths = new Set<string>();
  const claimedRemote = new Set<string>();
  const adopted = new Map<string, RemoteFile>();
  if (remote) {
    // Only a listing needs to know every ID we own; a watcher batch must not walk 100k entries.
    for (const e of entries.values()) claimedRemote.add(e.fileId);
    for (const id of pendingDeleteIds) claimedRemote.add(id);
    for (const id of input.foreignIds ?? []) claimedRemote.add(id);
    const intents = [...intentsByPath.values()]
      .filter(
        (i) =>
          scopeSet.has(i.path) &&
          !inFlight.has(i.path) &&
          Date.parse(i.startedAt) < remote.startedAt.getTime(),
      )
      .sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.path.localeCompare(b.path));
    // The API keeps no path or hash: name and size are all that tie a remote file to an intent.
    const keyOf = (i: PendingUpload) => `${i.size}\0${i.remoteName}`;
    const inFlightKeys = new Set(
      input.manifest.pendingUploads.filter((i) => inFlight.has(i.path)).map(keyOf),
    );
    const groups = new Map<string, PendingUpload[]>();
    for (const intent of intents) {
      // An upload of the same name and size is running: its file may be listed already, and
      // taking it for this intent would adopt or delete someone else's fresh upload. Wait.
      if (inFlightKeys.has(keyOf(intent))) continue;
      const group = groups.get(keyOf(intent));
      if (group) group.push(intent);
      else groups.set(keyOf(intent), [intent]);
    }
    // Indexed once: after a crash in a large initial sync there can be an intent per file.
    const remoteByKey = new Map<string, RemoteFile[]>();
    if (groups.size > 0) {
      for (const f of remote.files.values()) {
        const key = `${f.sizeBytes}\0${f.filename}`;
        if (!groups.has(key)) continue;
        const list = remoteByKey.get(key);
        if (list) list.push(f);
        else remoteByKey.set(key, [f]);
      }
    }
    for (const [key, group] of groups) {
      const first = group[0]!;
      for (const intent of group) resolvedIntentPaths.add(intent.path);
      const since = Date.parse(first.startedAt) - INTENT_CLOCK_SLACK_MS;
      const candidates = (remoteByKey.get(key) ?? [])
        .filter((f) => !claimedRemote.has(f.id) && Date.parse(f.createdAt) >= since)
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
      for (const c of candidates) claimedRemote.add(c.id);
      // Several intents with different contents: which file holds which content cannot be known,
      // so none is adopted; every candidate goes and each path is uploaded again.
      const interchangeable = new Set(group.map((i) => i.sha256)).size === 1;
      const unused = [...candidates];
      for (const intent of group) {
        const local = input.local.get(intent.path);
        const stillWanted =
          local !== undefined &&
          local.sha256 === intent.sha256 &&
          entries.get(intent.path)?.sha256 !== intent.sha256;
        const keep = stillWanted && interchangeable ? unused.shift() : undefined;
        if (keep && local?.sha256 !== undefined) {
          const old = entries.get(intent.path);
          const op: SyncOp = {
            kind: 'adopt',
            path: intent.path,
            intent,
            remote: keep,
            local: local as HashedEntry,
          };
          if (old && old.fileId !== keep.id) op.oldFileId = old.fileId;
          ops.push(op);
          adopted.set(intent.path, keep);
        } else {
          ops.push({ kind: 'drop-intent', path: intent.path });
        }
      }
      for (const c of unused) ops.push({ kind: 'discard', path: first.path, fileId: c.id });
    }
    for (const id of pendingDeleteIds)
      if (!remote.files.has(id)) ops.push({ kind: 'delete-done', fileId: id });
  }

  // 2. Paths that vanished locally and paths that are new: pair them into moves where possible.
  const removed: string[] = [];
  const added: HashedEntry[] = [];
  for (const p of scopeSet) {
    if (inFlight.has(p) || adopted.has(p)) continue;
    const local = input.local.get(p);
    const entry = entries.get(p);
    if (intentsByPath.has(p) && !resolvedIntentPaths.has(p)) {
      // An unresolved intent may have created a remote file already; uploading again could duplicate it.
      skipped.push({ path: p, reason: 'pending-intent' });
      continue;
    }
    if (local === undefined) {
      if (entry === undefined) continue;
      if (unreadable.has(p) || isUnder(p, unreadableDirs)) continue;
      removed.push(p);
      continue;
    }
    if (local.size > maxBytes) {
      skipped.push({ path: p, reason: 'too-large', detail: `${local.size} bytes` });
      continue;
    }
    if (entry === undefined) {
      if (local.sha256 === undefined) {
        skipped.push({ path: p, reason: 'needs-hash' });
        continue;
      }
      added.push(local as HashedEntry);
      continue;
    }
    if (local.sha256 === undefined) {
      if (!sameStat(local, entry)) {
        skipped.push({ path: p, reason: 'needs-hash' });
        continue;
      }
      if (remoteGone(entry)) {
        // Unchanged locally, but someone deleted our remote copy: upload it again.
        ops.push({
          kind: 'reupload',
          path: p,
          local: { ...local, sha256: entry.sha256 },
          vanishedFileId: entry.fileId,
        });
      } else {
        unchanged++;
      }
      continue;
    }
    const hashed = local as HashedEntry;
    if (hashed.sha256 === entry.sha256) {
      if (remoteGone(entry))
        ops.push({ kind: 'reupload', path: p, local: hashed, vanishedFileId: entry.fileId });
      else if (!sameStat(hashed, entry)) ops.push({ kind: 'refresh', path: p, local: hashed });
      else unchanged++;
      continue;
    }
    if (remoteGone(entry))
      ops.push({ kind: 'reupload', path: p, local: hashed, vanishedFileId: entry.fileId });
    else ops.push({ kind: 'replace', path: p, local: hashed, oldFileId: entry.fileId });
  }

  // A move needs the same content and the same remote filename, and a remote copy still alive.
  const removedByKey = new Map<string, string[]>();
  for (const p of removed) {
    const e = entries.get(p)!;
    if (remoteGone(e)) continue;
    const key = `${e.sha256}\0${remoteBasename(p)}`;
    const list = removedByKey.get(key) ?? [];
    list.push(p);
    removedByKey.set(key, list);
  }
  const movedFrom = new Set<string>();
  for (const local of added.sort((a, b) => a.path.localeCompare(b.path))) {
    const key = `${local.sha256}\0${remoteBasename(local.path)}`;
    const from = removedByKey.get(key)?.shift();
    if (from !== undefined) {
      movedFrom.add(from);
      ops.push({ kind: 'move', from, to: local.path, local });
    } else {
      ops.push({ kind: 'upload', path: local.path, local });
    }
  }
  for (const p of removed.sort()) {
    if (movedFrom.has(p)) continue;
    const e = entries.get(p)!;
    ops.push(
      remoteGone(e)
        ? { kind: 'forget', path: p, fileId: e.fileId }
        : { kind: 'delete', path: p, fileId: e.fileId },
    );
  }

  let unmanagedRemote = 0;
  if (remote) for (const id of remote.files.keys()) if (!claimedRemote.has(id)) unmanagedRemote++;
  // In scoped plans the listing is partial knowledge; counting unmanaged files only makes sense for a full pass.
  if (input.scope) unmanagedRemote = 0;

  return { ops, skipped, unmanagedRemote, unchanged };
}

/** Counts operations by kind, for summaries and logs. */
export function countOps(ops: readonly SyncOp[]): Record<SyncOp['kind'], number> {
  const counts = {
    upload: 0,
    replace: 0,
    reupload: 0,
    delete: 0,
    move: 0,
    refresh: 0,
    forget: 0,
    adopt: 0,
    discard: 0,
    'drop-intent': 0,
    'delete-done': 0,
  } satisfies Record<SyncOp['kind'], number>;
  for (const op of ops) counts[op.kind]++;
  return counts;
}
