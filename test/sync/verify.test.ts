/** verify's remote check: which IDs it names, when the ids filter beats a listing, and `paths` scoping. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPathFilter } from '../../src/local/filter.js';
import { hashFile } from '../../src/local/hash.js';
import { remoteCheckMethod, remoteIdsToCheck, verifyFolder, VERIFY_IDS_MAX } from '../../src/sync/verify.js';
import type { ManifestEntry, PendingDelete, RemoteFile, Suspect } from '../../src/types.js';
import { onCleanup } from '../helpers/cleanup.js';

function entry(fileId: string, sha256: string, size: number): ManifestEntry {
  return {
    fileId,
    sha256,
    size,
    mtimeMs: 0,
    ino: 0,
    remoteName: 'x',
    mimeType: 'text/plain',
    uploadedAt: '',
  };
}
function remote(id: string, sizeBytes: number): RemoteFile {
  return { id, filename: 'x', mimeType: 'text/plain', sizeBytes, createdAt: '', downloadable: false };
}
const suspect: Suspect = {
  fileId: 'fs',
  filename: 's.txt',
  sizeBytes: 1,
  createdAt: '',
  path: 's.txt',
  why: 'two candidates',
  recordedAt: '',
};
const queued: PendingDelete = { fileId: 'fd', path: 'gone.txt', reason: 'removed', queuedAt: '' };

describe('remoteIdsToCheck', () => {
  it('names the entries in scope, every suspect and every queued delete, once each', () => {
    const entries = new Map([
      ['a/one.txt', entry('f1', 'h', 1)],
      ['a/two.txt', entry('f2', 'h', 1)],
      ['b.txt', entry('f3', 'h', 1)],
    ]);
    const base = { entries, pendingDeletes: [queued], suspects: [suspect] };
    expect(remoteIdsToCheck(base)).toEqual(['f1', 'f2', 'f3', 'fs', 'fd']);
    expect(remoteIdsToCheck({ ...base, paths: ['a'] })).toEqual(['f1', 'f2', 'fs', 'fd']);
    expect(remoteIdsToCheck({ ...base, paths: ['b.txt'] })).toEqual(['f3', 'fs', 'fd']);
  });
});

describe('remoteCheckMethod', () => {
  it('uses the ids filter for a subset or up to VERIFY_IDS_MAX IDs (GA), a listing otherwise', () => {
    expect(remoteCheckMethod(VERIFY_IDS_MAX, { contract: 'ga', subset: false })).toBe('ids');
    expect(remoteCheckMethod(VERIFY_IDS_MAX + 1, { contract: 'ga', subset: false })).toBe('list');
    expect(remoteCheckMethod(5_000, { contract: 'ga', subset: true })).toBe('ids');
    expect(remoteCheckMethod(1, { contract: 'beta', subset: false })).toBe('list');
  });
});

describe('verifyFolder', () => {
  it('checks only the given paths, and marks queued deletes that are gone already', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'files-sync-verify-'));
    onCleanup(() => fs.rm(root, { recursive: true, force: true }));
    await fs.mkdir(path.join(root, 'a'));
    await fs.writeFile(path.join(root, 'a/one.txt'), 'one');
    await fs.writeFile(path.join(root, 'a/new.txt'), 'new');
    await fs.writeFile(path.join(root, 'b.txt'), 'changed');
    const sha = (await hashFile(path.join(root, 'a/one.txt'))).sha256;
    const report = await verifyFolder({
      root,
      filter: createPathFilter({ root }),
      followSymlinks: false,
      entries: new Map([
        ['a/one.txt', entry('f1', sha, 3)],
        ['b.txt', entry('f3', 'old', 3)],
      ]),
      pendingUploads: [],
      pendingDeletes: [queued],
      paths: ['a'],
      remote: new Map([['f1', remote('f1', 3)]]),
    });
    expect(report.checked).toBe(2);
    expect(report.drift).toEqual([
      { path: 'a/new.txt', kind: 'untracked' },
      { path: 'gone.txt', kind: 'pending-delete', fileId: 'fd', detail: 'already gone remotely' },
    ]);
  });
});
