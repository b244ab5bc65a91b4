// A manifest entry for state-store tests: fixed, plausible fields, any of them overridable.
import type { ManifestEntry } from '../../src/types.js';

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
