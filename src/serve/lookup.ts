/**
 * The answer to "which file ID is this path right now, and can I send it?": one manifest entry
 * with its live state (synced, pending, failed), the earlier IDs still alive, and the Messages
 * content block. O(1) per lookup: a keyed read of the live manifest plus one stat of the file.
 */
import { stat } from 'node:fs/promises';
import type { ManifestEntry } from '../types.js';
import type { ManifestReader } from '../state/manifest.js';
import { errorCode } from '../errors.js';
import { contentBlock, type ContentBlock } from './blocks.js';
import { displayPath } from '../local/display-name.js';

export type SyncState = 'synced' | 'pending' | 'failed';

/** An earlier file ID of a path that still exists remotely, and until when it is kept. */
export interface PreviousId {
  fileId: string;
  until: string;
}

/** The lookup answer (HTTP /v1/lookup, `files-sync id --json`, the library's lookup()). */
export interface LookupResult {
  folder: string;
  path: string;
  fileId: string;
  sha256: string;
  sizeBytes: number;
  mimeType: string;
  uploadedAt: string;
  state: SyncState;
  /** Why the state is `failed` (or what a `pending` path is waiting on). */
  reason?: string | undefined;
  previous: PreviousId[];
  block: ContentBlock;
}

/**
 * The earlier IDs of a path still alive (the manifest's ID retention), in the answer's shape.
 * O(pending deletes) per call, as ManifestReader.previousIds is; with no deletes waiting (the
 * usual idle state) that is nothing.
 */
export function previousOf(manifest: ManifestReader, rel: string): PreviousId[] {
  return manifest.previousIds(rel).map((p) => ({ fileId: p.fileId, until: p.until }));
}

/** The answer for a manifest entry in a given state. */
export function describeEntry(
  folder: string,
  rel: string,
  entry: ManifestEntry,
  state: SyncState,
  reason: string | undefined,
  previous: PreviousId[],
): LookupResult {
  const out: LookupResult = {
    folder,
    path: rel,
    fileId: entry.fileId,
    sha256: entry.sha256,
    sizeBytes: entry.size,
    mimeType: entry.mimeType,
    uploadedAt: entry.uploadedAt,
    state,
    previous,
    block: contentBlock(entry.fileId, entry.mimeType),
  };
  if (reason !== undefined) out.reason = reason;
  return out;
}

/** The lookup from a manifest alone (no daemon): pending while an upload intent is recorded. */
export function lookupInManifest(
  folder: string,
  manifest: ManifestReader,
  rel: string,
): LookupResult | undefined {
  const entry = manifest.get(rel);
  if (!entry) return undefined;
  const pending = manifest.pendingUpload(rel) !== undefined;
  return describeEntry(
    folder,
    rel,
    entry,
    pending ? 'pending' : 'synced',
    pending ? 'an upload of a newer version is in progress' : undefined,
    previousOf(manifest, rel),
  );
}

/** What `files-sync id` prints for an answer: the whole lookup (--json), the block (--block), or the ID. */
export function idAnswerText(
  answer: { fileId?: unknown; block?: unknown },
  as: { json?: boolean | undefined; block?: boolean | undefined },
): string {
  if (as.json) return JSON.stringify(answer, null, 2);
  return as.block ? JSON.stringify(answer.block) : String(answer.fileId);
}

/** What `files-sync id` says when a path has no file ID, from the daemon's answer or the manifest. */
export function notSyncedMessage(rel: string, folder: string, state: unknown, reason: unknown): string {
  const why =
    state === 'pending'
      ? ' yet (an upload is pending)'
      : state === 'failed'
        ? ` (failed: ${typeof reason === 'string' ? reason : 'unknown'})`
        : '';
  return `files-sync: ${displayPath(rel)} is not synced${why} in folder "${folder}"`;
}

/** What `files-sync id --wait` says when the wait ran out. */
export function stillNotSyncedMessage(
  rel: string,
  state: unknown,
  waitSeconds: number,
  reason: unknown,
): string {
  return `files-sync: ${displayPath(rel)} is still ${String(state)} after ${waitSeconds} s${typeof reason === 'string' && reason !== '' ? ` (${reason})` : ''}`;
}

/** One running folder as the lookup reads it; FolderSync provides it. */
export interface LookupFolder {
  name: string;
  root: string;
  manifest: ManifestReader;
  /** Whether the folder's filter takes this path at all. */
  includes(rel: string): boolean;
  /** Whether an operation on the path is queued or running. */
  busy(rel: string): boolean;
}

/** The last failure of each path, cleared by its next success; fed by the executor's outcomes. */
export class FailureBook {
  private readonly failures = new Map<string, string>();

  set(folder: string, rel: string, reason: string): void {
    this.failures.set(`${folder}\0${rel}`, reason);
  }

  clear(folder: string, rel: string): void {
    this.failures.delete(`${folder}\0${rel}`);
  }

  get(folder: string, rel: string): string | undefined {
    return this.failures.get(`${folder}\0${rel}`);
  }
}

/** What the lookup found: an answer, or why there is none (404 with a state). */
export type LiveLookup =
  | { found: true; result: LookupResult }
  | { found: false; state: 'pending' | 'failed' | 'unknown'; reason: string };

/**
 * Looks a path up in a running folder. Pending = an upload intent, queued or running work, or a
 * local file that differs from what was uploaded (an edit the watcher may not have reported yet).
 */
export async function lookupLive(f: LookupFolder, rel: string, failures: FailureBook): Promise<LiveLookup> {
  const entry = f.manifest.get(rel);
  const failure = failures.get(f.name, rel);
  const intent = f.manifest.pendingUpload(rel) !== undefined;
  const local = await stat(`${f.root}/${rel}`).then(
    (s) => ({ size: s.size, mtimeMs: s.mtimeMs, ino: s.ino, isFile: s.isFile() }),
    (err: unknown) => ({ error: errorCode(err) ?? 'error' }),
  );
  if (!entry) {
    if (failure !== undefined) return { found: false, state: 'failed', reason: failure };
    if ('isFile' in local && local.isFile && f.includes(rel))
      return { found: false, state: 'pending', reason: 'not uploaded yet' };
    return {
      found: false,
      state: 'unknown',
      reason:
        'error' in local
          ? 'no such synced file'
          : 'not synced (excluded by the folder filter, or not a file)',
    };
  }
  let state: SyncState = 'synced';
  let reason: string | undefined;
  if (intent || f.busy(rel)) {
    state = 'pending';
    reason = 'an upload or delete is in progress';
  } else if (failure !== undefined) {
    state = 'failed';
    reason = failure;
  } else if ('error' in local) {
    state = 'pending';
    reason =
      local.error === 'ENOENT'
        ? 'removed locally; the delete is not done yet'
        : `cannot read local file (${local.error})`;
  } else if (local.size !== entry.size || local.mtimeMs !== entry.mtimeMs || local.ino !== entry.ino) {
    state = 'pending';
    reason = 'changed locally; the upload is not done yet';
  }
  return {
    found: true,
    result: describeEntry(f.name, rel, entry, state, reason, previousOf(f.manifest, rel)),
  };
}
