import { describe, expect, it } from 'vitest';
import { ManifestCorruptError, ManifestVersionError } from '../../src/state/errors.js';
import { migrate } from '../../src/state/manifest.js';
import { parseShard, parseShardEntry, shardText } from '../../src/state/manifest-format.js';
import type { ManifestEntry } from '../../src/types.js';

const folder = { name: 'docs', root: '/srv/docs' };
const entry: ManifestEntry = {
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

describe('shard files', () => {
  // A shard as a files-sync before v4 wrote it: an object keyed by path, an object per entry.
  const v3Shard = (entries: Record<string, unknown>, space?: number): string =>
    JSON.stringify({ version: 3, shard: 0, of: 1, entries }, null, space);
  const v4Shard = (entries: Record<string, ManifestEntry>): string =>
    shardText(0, 1, new Map(Object.entries(entries)));
  const expiring = { ...entry, expiresAt: '2026-02-01T00:00:00Z' };

  it('writes entries as arrays that read back as the same entries (v4)', () => {
    const text = v4Shard({ 'a.txt': entry, 'b/c.pdf': expiring });
    expect(text.startsWith('{"version":4,"shard":0,"of":1,"entries":[["a.txt","file_1",')).toBe(true);
    const read = parseShard(JSON.parse(text), 'f');
    expect([...read]).toEqual([
      ['a.txt', entry],
      ['b/c.pdf', expiring],
    ]);
    expect(read.get('a.txt')).not.toHaveProperty('expiresAt');
  });

  it('still reads a v3 shard, as files-sync wrote it before v4', () => {
    expect([...parseShard(JSON.parse(v3Shard({ 'a.txt': { ...entry, extra: 1 } })), 'f')]).toEqual([
      ['a.txt', entry],
    ]);
  });

  it('refuses a v4 row that is not well formed, naming the row and the field', () => {
    const read = (rows: unknown): Map<string, ManifestEntry> =>
      parseShard({ version: 4, shard: 0, of: 1, entries: rows }, 'f');
    const good = JSON.parse(v4Shard({ 'a.txt': entry })).entries[0] as unknown[];
    expect(() => read([good, [...good.slice(0, 3), 'big', ...good.slice(4)]])).toThrow(/entries\[1\]\.size/);
    expect(() => read([['', ...good.slice(1)]])).toThrow(/entries\[0\]\.path/);
    expect(() => read([good.slice(0, 8)])).toThrow(/entries\[0\]: expected 9 or 10 fields/);
    expect(() => read([{ 'a.txt': entry }])).toThrow(/entries\[0\]: expected array/);
    expect(() => read({ 'a.txt': entry })).toThrow(ManifestCorruptError);
    expect(() => parseShard({ version: 5, entries: [] }, 'f')).toThrow(ManifestCorruptError);
  });
});

describe('parseShardEntry', () => {
  const v3Shard = (entries: Record<string, unknown>, space?: number): string =>
    JSON.stringify({ version: 3, shard: 0, of: 1, entries }, null, space);
  const v4Shard = (entries: Record<string, ManifestEntry>): string =>
    shardText(0, 1, new Map(Object.entries(entries)));
  const only = (path: string, e: ManifestEntry): Map<string, ManifestEntry> => new Map([[path, e]]);

  for (const [version, shard] of [
    [3, v3Shard],
    [4, v4Shard],
  ] as const) {
    it(`finds the entry among others, not a field or a value that spells the same text (v${version})`, () => {
      // 'size' is a field name in v3, a remote name in both; 'text/plain' a MIME type.
      const text = shard({
        'x.txt': { ...entry, remoteName: 'size' },
        size: { ...entry, fileId: 'file_2' },
        'text/plain': { ...entry, fileId: 'file_3', remoteName: 'x.txt' },
      });
      expect(parseShardEntry(text, 'f', 'size')).toEqual(only('size', { ...entry, fileId: 'file_2' }));
      expect(parseShardEntry(text, 'f', 'x.txt')).toEqual(only('x.txt', { ...entry, remoteName: 'size' }));
      expect(parseShardEntry(text, 'f', 'text/plain')).toEqual(
        only('text/plain', { ...entry, fileId: 'file_3', remoteName: 'x.txt' }),
      );
    });

    it(`leaves an entry that is not well formed to the full parse, which refuses it (v${version})`, () => {
      const text = shard({ 'a.txt': { ...entry, size: -1 } });
      expect(parseShardEntry(text, 'f', 'a.txt')).toBeUndefined();
      expect(() => parseShard(JSON.parse(text), 'f')).toThrow(ManifestCorruptError);
    });
  }

  it('finds the first and the last entry of a v4 shard, with and without an expiry', () => {
    const text = v4Shard({ 'a.txt': { ...entry, expiresAt: '2026-02-01T00:00:00Z' }, 'b.txt': entry });
    expect(parseShardEntry(text, 'f', 'a.txt')).toEqual(
      only('a.txt', { ...entry, expiresAt: '2026-02-01T00:00:00Z' }),
    );
    expect(parseShardEntry(text, 'f', 'b.txt')).toEqual(only('b.txt', entry));
  });

  it('is not misled by a string ending in `],[` before a path of ","', () => {
    // `"r],[",",1,2]"` holds the text `[",",` (a v4 entry of the path ",") across two strings.
    const decoy = { ...entry, remoteName: 'r],[', mimeType: ',1,2]' };
    const comma = { ...entry, fileId: 'file_2', remoteName: ',' };
    const text = v4Shard({ 'a.txt': decoy, ',': comma });
    expect(text).toContain('"r],[",",1,2]"');
    expect(parseShard(JSON.parse(text), 'f').get(',')).toEqual(comma);
    expect(parseShardEntry(text, 'f', ',')).toEqual(only(',', comma));
    expect(parseShardEntry(text, 'f', 'a.txt')).toEqual(only('a.txt', decoy));
  });

  it('leaves every case it cannot answer for sure to the full parse', () => {
    const one = { 'a.txt': entry };
    expect(parseShardEntry(v3Shard(one), 'f', 'b.txt')).toBeUndefined();
    expect(parseShardEntry(v4Shard(one), 'f', 'b.txt')).toBeUndefined();
    expect(parseShardEntry(v3Shard(one, 2), 'f', 'a.txt')).toBeUndefined();
    // A version that does not match the form of its entries, or one this code does not know.
    expect(parseShardEntry(v3Shard(one).replace('"version":3', '"version":4'), 'f', 'a.txt')).toBeUndefined();
    expect(parseShardEntry(v4Shard(one).replace('"version":4', '"version":3'), 'f', 'a.txt')).toBeUndefined();
    expect(parseShardEntry(v4Shard(one).replace('"version":4', '"version":5'), 'f', 'a.txt')).toBeUndefined();
    expect(parseShardEntry(v3Shard(one).slice(0, -20), 'f', 'a.txt')).toBeUndefined();
    expect(parseShardEntry(v4Shard(one).slice(0, -20), 'f', 'a.txt')).toBeUndefined();
  });
});
