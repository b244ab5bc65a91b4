/** Synthetic state entries for benchmarks that need a large folder's state without its files. */
import type { ManifestEntry } from '../../src/types.js';

/** Path k: 100 files a directory, 100 directories a level, like the bench corpus. */
export function entryPath(k: number): string {
  return `t${Math.floor(k / 10_000)}/d${Math.floor(k / 100) % 100}/f${k}.txt`;
}

export function entryFor(k: number): ManifestEntry {
  const hex = k.toString(16).padStart(8, '0');
  return {
    fileId: `file_011CN${hex}${'x'.repeat(12)}`,
    sha256: hex.repeat(8),
    size: 200 + (k % 8000),
    mtimeMs: 1_760_000_000_000 + k,
    ino: 1_000_000 + k,
    remoteName: `f${k}.txt`,
    mimeType: 'text/plain',
    uploadedAt: '2026-05-14T12:00:00.000Z',
  };
}
