/**
 * The operation vocabulary shared by the planner, the executor, the pass and the CLI: what an op
 * is, which paths it touches, which ops upload, the keys that tie uploads and moves together, and
 * how an op is described and counted.
 */
import path from 'node:path';
import type { LocalEntry, PendingDelete, PendingUpload, RemoteFile } from '../types.js';

/** A local entry whose content hash is known. */
export type HashedEntry = LocalEntry & { sha256: string };

export type SyncOp =
  /** A path the manifest does not know: upload it. */
  | { kind: 'upload'; path: string; local: HashedEntry }
  /** Content changed: upload the new version, record it, then delete `oldFileId`. */
  | { kind: 'replace'; path: string; local: HashedEntry; oldFileId: string }
  /**
   * The remote copy is gone or about to be (`reason`): upload again. Only an `expiring` copy is
   * still alive, so only its `oldFileId` is retired like a replaced one; the others are gone.
   */
  | { kind: 'reupload'; path: string; local: HashedEntry; oldFileId: string; reason: ReuploadReason }
  /** The path is gone locally: delete its remote copy. */
  | { kind: 'delete'; path: string; fileId: string }
  /**
   * Same content and basename at a new path: only the manifest key changes. With `queued`, `from`
   * was removed by an earlier pass and its ID waits out its retention in the delete queue: the
   * move takes the ID back from the queue (the rename's halves fell into different batches).
   */
  | { kind: 'move'; from: string; to: string; local: HashedEntry; queued?: PendingDelete | undefined }
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
      /** The path's previous remote file, deleted once the adopted one is recorded. */
      oldFileId?: string | undefined;
    }
  /**
   * A remote file created by an interrupted upload that nobody will use (or a suspect, in a
   * workspace declared exclusive): delete it.
   */
  | { kind: 'discard'; path: string; fileId: string; suspect?: boolean | undefined }
  /** A remote file an interrupted upload may have created but that cannot be proven ours: record it. */
  | { kind: 'suspect'; path: string; remote: RemoteFile; why: string }
  /** An unanswered upload attempt a late enough listing has looked for: forget it. */
  | { kind: 'settle'; path: string; startedAt: string }
  /** Drop a pending intent that left nothing behind (or whose file changed since). */
  | { kind: 'drop-intent'; path: string }
  /** A pending delete (or suspect) whose file is already gone remotely. */
  | { kind: 'delete-done'; fileId: string };

export type OpKind = SyncOp['kind'];

/**
 * Why a tracked path is uploaded again: its copy `vanished` (deleted by someone else), `expired`
 * (the API answered `file_expired`, or listed it past its `expires_at`), or is `expiring` (its
 * `expires_at` falls before the next reconciliation, so the new copy must be up before then).
 */
export type ReuploadReason = 'vanished' | 'expired' | 'expiring';

/** Ops that send a local file's content to the API (and write an upload intent first). */
export type UploadOp = Extract<SyncOp, { kind: 'upload' | 'replace' | 'reupload' }>;

/** True for the ops that upload content; `adopt` records an earlier upload and sends nothing. */
export function isUploadOp(op: SyncOp): op is UploadOp {
  return op.kind === 'upload' || op.kind === 'replace' || op.kind === 'reupload';
}

/** True for the ops that leave a path with a new remote file recorded (uploads and adoptions). */
export function isUploadedOrAdopted(op: SyncOp): boolean {
  return isUploadOp(op) || op.kind === 'adopt';
}

/** Paths an operation touches; the executor serialises operations per path. */
export function opPaths(op: SyncOp): string[] {
  switch (op.kind) {
    case 'move':
      // A move from the delete queue touches only its new path: the old one is no longer
      // tracked, and may be another file's by now (its upload need not wait for this).
      return op.queued ? [op.to] : [op.from, op.to];
    case 'delete-done':
      return [];
    default:
      return [op.path];
  }
}

/** The path an op is reported under (a move's destination); undefined for `delete-done`. */
export function opPath(op: SyncOp): string | undefined {
  return op.kind === 'move' ? op.to : op.kind === 'delete-done' ? undefined : op.path;
}

/** What a report names an op by: its path, or the file ID of a `delete-done`. */
export function opLabel(op: SyncOp): string {
  return op.kind === 'delete-done' ? op.fileId : (opPath(op) ?? '');
}

/** Where an op happens, for one-line listings: `from -> to` for a move. */
export function opWhere(op: SyncOp): string {
  return op.kind === 'move' ? `${op.from} -> ${op.to}` : opLabel(op);
}

/** The key under which uploads can be confused with each other (defined by the API layer, which needs it first). */
export { uploadKey } from '../api/upload-tracker.js';

/** The key a move pairs on: same content and same remote basename (a rename keeps its file ID). */
export function moveKey(sha256: string, relPath: string): string {
  return `${sha256}\0${path.posix.basename(relPath)}`;
}

/** A short, log-friendly description of an operation (no file contents, no secrets). */
export function describeOp(op: SyncOp): Record<string, unknown> {
  switch (op.kind) {
    case 'move':
      return op.queued
        ? { kind: op.kind, from: op.from, to: op.to, fileId: op.queued.fileId, fromDeleteQueue: true }
        : { kind: op.kind, from: op.from, to: op.to };
    case 'delete-done':
      return { kind: op.kind, fileId: op.fileId };
    case 'delete':
    case 'forget':
    case 'discard':
      return { kind: op.kind, path: op.path, fileId: op.fileId };
    case 'suspect':
      return { kind: op.kind, path: op.path, fileId: op.remote.id, why: op.why };
    case 'replace':
      return { kind: op.kind, path: op.path, oldFileId: op.oldFileId };
    case 'reupload':
      return { kind: op.kind, path: op.path, oldFileId: op.oldFileId, reason: op.reason };
    default:
      return { kind: op.kind, path: op.path };
  }
}

/** Counts operations by kind, for summaries and logs. */
export function countOps(ops: readonly SyncOp[]): Record<OpKind, number> {
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
    suspect: 0,
    settle: 0,
    'drop-intent': 0,
    'delete-done': 0,
  } satisfies Record<OpKind, number>;
  for (const op of ops) counts[op.kind]++;
  return counts;
}
