import { describe, expect, it } from 'vitest';
import { ManifestCorruptError, ManifestVersionError } from '../../src/state/errors.js';
import { migrate } from '../../src/state/manifest.js';
import { parseShardEntry } from '../../src/state/manifest-format.js';

const folder = { name: 'docs', root: '/srv/docs' };
const entry = {
  fileId: 'file_1',
  sha256: 'c'.repeat(64),
  size: 1,
  mtimeMs: 1,
  ino: 1,
  remoteName: 'a.txt',
  mimeType: 'text/plain',
  uploadedAt: '2026-01-01T00:00:00Z',
};

describe('migrate', () => {
  it('accepts the current version and drops unknown fields of records', () => {
    const data = migrate({
      version: 2,
      folder,
      entries: { 'a.txt': { ...entry, extra: 1 } },
      pendingUploads: {},
      pendingDeletes: {},
      stats: { lastError: 'x', custom: 3 },
    });
    expect(data.entries['a.txt']).toEqual(entry);
    expect(data.stats).toEqual({ lastError: 'x', custom: 3 });
    expect(Object.getPrototypeOf(data.entries)).toBeNull();
  });

  it('upgrades v0 (no version) using the folder it is given', () => {
    const data = migrate({ entries: { 'a.txt': entry } }, { folder });
    expect(data).toMatchObject({ version: 2, folder, pendingUploads: {}, pendingDeletes: {}, suspects: {} });
  });

  it('rejects newer versions and malformed data with typed errors naming the file', () => {
    expect(() => migrate({ version: 7 }, { file: '/s/x.manifest.json' })).toThrow(ManifestVersionError);
    expect(() => migrate({ version: 7 }, { file: '/s/x.manifest.json' })).toThrow('/s/x.manifest.json');
    for (const raw of [null, 'text', 3, [], { version: 'one' }, { version: 1.5 }, { version: 1, folder }]) {
      expect(() => migrate(raw, { file: '/s/x.manifest.json' }), JSON.stringify(raw)).toThrow(
        ManifestCorruptError,
      );
    }
  });

  it('says which record is malformed', () => {
    const bad = {
      version: 1,
      folder,
      entries: { 'a.txt': { ...entry, size: -1 } },
      pendingUploads: {},
      pendingDeletes: {},
    };
    expect(() => migrate(bad)).toThrow(/entries\["a\.txt"\]\.size/);
  });
});

describe('parseShardEntry', () => {
  const shard = (entries: Record<string, unknown>, space?: number): string =>
    JSON.stringify({ version: 3, shard: 0, of: 1, entries }, null, space);

  it('finds the entry among others, not a field or a value that spells the same text', () => {
    const text = shard({ 'x.txt': { ...entry, remoteName: 'size' }, size: { ...entry, fileId: 'file_2' } });
    expect(parseShardEntry(text, 'f', 'size')).toEqual({ size: { ...entry, fileId: 'file_2' } });
    expect(parseShardEntry(text, 'f', 'x.txt')).toEqual({ 'x.txt': { ...entry, remoteName: 'size' } });
  });

  it('leaves every case it cannot answer for sure to the full parse', () => {
    const one = { 'a.txt': entry };
    expect(parseShardEntry(shard(one), 'f', 'b.txt')).toBeUndefined();
    expect(parseShardEntry(shard(one, 2), 'f', 'a.txt')).toBeUndefined();
    expect(parseShardEntry(shard(one).replace('"version":3', '"version":4'), 'f', 'a.txt')).toBeUndefined();
    expect(parseShardEntry(shard(one).slice(0, -20), 'f', 'a.txt')).toBeUndefined();
  });

  it('refuses an entry that is not well formed, as the full parse does', () => {
    const text = shard({ 'a.txt': { ...entry, size: 'big' } });
    expect(() => parseShardEntry(text, 'f', 'a.txt')).toThrow(ManifestCorruptError);
  });
});
