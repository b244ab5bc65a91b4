/**
 * Verification: compare the manifest with a fresh hash of the local files and with the remote
 * side, which is known from a full listing or, for a few IDs, from the `ids` filter (`remoteIdsToCheck`).
 */
import path from 'node:path';
import type { ManifestEntry, PendingDelete, PendingUpload, RemoteFile, Suspect } from '../types.js';
import type { PathFilter } from '../local/filter.js';
import { scanFolder } from '../local/scan.js';
import { hashFile } from '../local/hash.js';
import { MAX_UPLOAD_BYTES } from './plan.js';
import { mapLimit } from './map-limit.js';
import { errorMessage } from '../errors.js';

/** Files hashed at once. */
const HASH_CONCURRENCY = 4;

/**
 * Up to this many IDs the `ids` filter (100 a request, so at most 10 requests) is used instead of
 * a full listing, which costs a request per 1000 files of the whole workspace, others' included.
 */
export const VERIFY_IDS_MAX = 1000;

/** True when `rel` is one of `paths` or lies under one of them. */
function inPaths(rel: string, paths: readonly string[] | undefined): boolean {
  if (paths === undefined) return true;
  return paths.some((p) => p === '' || rel === p || rel.startsWith(p.endsWith('/') ? p : `${p}/`));
}

/**
 * The remote IDs a verification of `input` looks at: the entries in scope, the suspects, and the
 * queued deletes (to tell which of them are gone already).
 */
export function remoteIdsToCheck(
  input: Pick<VerifyInput, 'entries' | 'pendingDeletes' | 'suspects' | 'paths'>,
): string[] {
  const ids = new Set<string>();
  for (const [p, e] of input.entries) if (inPaths(p, input.paths)) ids.add(e.fileId);
  for (const x of input.suspects ?? []) ids.add(x.fileId);
  for (const d of input.pendingDeletes) ids.add(d.fileId);
  return [...ids];
}

/**
 * How to learn about `idCount` remote IDs: with the `ids` filter when that takes few requests
 * (GA only: the beta contract has no filter and would retrieve one by one), else a full listing.
 * A subset (`--path`) always uses the filter: it is what the filter is for.
 */
export function remoteCheckMethod(
  idCount: number,
  opts: { contract: 'ga' | 'beta'; subset: boolean },
): 'ids' | 'list' {
  if (opts.subset) return 'ids';
  return opts.contract === 'ga' && idCount <= VERIFY_IDS_MAX ? 'ids' : 'list';
}
export interface Drift {
  path: string;
  kind:
    | 'missing-local'
    | 'untracked'
    | 'content-differs'
    | 'missing-remote'
    | 'remote-size-differs'
    | 'pending-upload'
    | 'pending-delete'
    | 'suspect'
    | 'unreadable';
  fileId?: string;
  detail?: string;
}

export interface VerifyInput {
  root: string;
  filter: PathFilter;
  followSymlinks: boolean;
  entries: ReadonlyMap<string, ManifestEntry>;
  pendingUploads: readonly PendingUpload[];
  pendingDeletes: readonly PendingDelete[];
  /** Remote files that may be ours but cannot be proven so. */
  suspects?: readonly Suspect[] | undefined;
  /**
   * The remote files among every ID `remoteIdsToCheck` names (a full listing, or an `ids` lookup
   * of just those); omitted = local check only.
   */
  remote?: ReadonlyMap<string, RemoteFile>;
  /** Only these paths (files, or directories with everything under them); omitted = the whole folder. */
  paths?: readonly string[] | undefined;
  /** Injected clock, for tests. */
  now?: number | undefined;
}

export interface VerifyReport {
  checked: number;
  drift: Drift[];
  /** Old IDs still valid for their retention time (not drift: they are deleted when it passes). */
  retained: number;
  /** Every suspect still on the server (or every one, without a listing): each is also drift. */
  suspects: Suspect[];
}

/** Re-hashes every local file and lists every difference between disk, manifest and remote. */
export async function verifyFolder(input: VerifyInput): Promise<VerifyReport> {
  const scan = await scanFolder(input.root, { filter: input.filter, followSymlinks: input.followSymlinks });
  const drift: Drift[] = [];
  const { paths } = input;
  const files = [...scan.entries.values()].filter(
    (l) => l.size <= MAX_UPLOAD_BYTES && inPaths(l.path, paths),
  );
  const hashes = new Map<string, string>();
  await mapLimit(files, HASH_CONCURRENCY, async (l) => {
    try {
      hashes.set(l.path, (await hashFile(path.join(input.root, ...l.path.split('/')))).sha256);
    } catch (err) {
      drift.push({ path: l.path, kind: 'unreadable', detail: errorMessage(err) });
    }
  });

  let checked = 0;
  for (const l of scan.entries.keys()) if (inPaths(l, paths)) checked++;
  for (const [p, e] of input.entries) {
    if (!inPaths(p, paths)) continue;
    if (!scan.entries.has(p)) drift.push({ path: p, kind: 'missing-local', fileId: e.fileId });
    else {
      const h = hashes.get(p);
      if (h !== undefined && h !== e.sha256)
        drift.push({ path: p, kind: 'content-differs', fileId: e.fileId });
    }
    if (input.remote) {
      const r = input.remote.get(e.fileId);
      if (!r) drift.push({ path: p, kind: 'missing-remote', fileId: e.fileId });
      else if (r.sizeBytes !== e.size)
        drift.push({
          path: p,
          kind: 'remote-size-differs',
          fileId: e.fileId,
          detail: `${r.sizeBytes} != ${e.size}`,
        });
    }
  }
  for (const p of scan.entries.keys())
    if (!input.entries.has(p) && inPaths(p, paths)) drift.push({ path: p, kind: 'untracked' });
  for (const u of input.pendingUploads) drift.push({ path: u.path, kind: 'pending-upload' });
  const now = input.now ?? Date.now();
  let retained = 0;
  for (const d of input.pendingDeletes) {
    if (d.notBefore !== undefined && Date.parse(d.notBefore) > now) retained++;
    else {
      const gone = input.remote !== undefined && !input.remote.has(d.fileId);
      // Already gone remotely: only the record is left, which the next sync clears.
      drift.push({
        path: d.path,
        kind: 'pending-delete',
        fileId: d.fileId,
        ...(gone ? { detail: 'already gone remotely' } : {}),
      });
    }
  }
  const suspects = (input.suspects ?? []).filter((x) => !input.remote || input.remote.has(x.fileId));
  for (const x of suspects)
    drift.push({
      path: x.path,
      kind: 'suspect',
      fileId: x.fileId,
      detail: `${x.filename}, ${x.sizeBytes} bytes, created ${x.createdAt}: ${x.why}`,
    });
  drift.sort((a, b) => a.path.localeCompare(b.path) || a.kind.localeCompare(b.kind));
  return { checked, drift, retained, suspects };
}
