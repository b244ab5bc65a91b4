/** Verification: compare the manifest with a fresh hash of every local file and the remote listing. */
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
  /** All remote files; omitted = local check only. */
  remote?: ReadonlyMap<string, RemoteFile>;
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
  const files = [...scan.entries.values()].filter((l) => l.size <= MAX_UPLOAD_BYTES);
  const hashes = new Map<string, string>();
  await mapLimit(files, HASH_CONCURRENCY, async (l) => {
    try {
      hashes.set(l.path, (await hashFile(path.join(input.root, ...l.path.split('/')))).sha256);
    } catch (err) {
      drift.push({ path: l.path, kind: 'unreadable', detail: errorMessage(err) });
    }
  });

  for (const [p, e] of input.entries) {
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
  for (const p of scan.entries.keys()) if (!input.entries.has(p)) drift.push({ path: p, kind: 'untracked' });
  for (const u of input.pendingUploads) drift.push({ path: u.path, kind: 'pending-upload' });
  const now = input.now ?? Date.now();
  let retained = 0;
  for (const d of input.pendingDeletes) {
    if (d.notBefore !== undefined && Date.parse(d.notBefore) > now) retained++;
    else drift.push({ path: d.path, kind: 'pending-delete', fileId: d.fileId });
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
  return { checked: scan.entries.size, drift, retained, suspects };
}
