// A manifest entry and a queued removal for state and sync tests: fixed, plausible fields, any of them overridable.
import type { ManifestEntry, PendingDelete } from '../../src/types.js';

export function entry(fileId: string, extra: Partial<ManifestEntry> = {}): ManifestEntry {
  return {
    fileId,
    sha256: 'a'.repeat(64),
    size: 3,
    mtimeMs: 1_700_000_000_000.5,
    ino: 42,
    remoteName: 'a.txt',
    mimeType: 'text/plain',
    uploadedAt: '2026-01-01T00:00:00.000Z',
    ...extra,
  };
}

/**
 * A removed path's ID queued at `queuedAt` with the default minute of retention, recording what a
 * later move needs to take it back (the entry's hash, name, type and upload time).
 */
export function queuedRemoval(
  fileId: string,
  path: string,
  queuedAt: Date,
  extra: Partial<PendingDelete> = {},
): PendingDelete {
  return {
    fileId,
    path,
    reason: 'removed',
    queuedAt: queuedAt.toISOString(),
    notBefore: new Date(queuedAt.getTime() + 60_000).toISOString(),
    sha256: 'a'.repeat(64),
    remoteName: 'a.txt',
    mimeType: 'text/plain',
    uploadedAt: queuedAt.toISOString(),
    ...extra,
  };
}
