// The state store contract, run against both backends: the embedded lowdb Manifest and the PostgreSQL PgStateStore.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { entry, queuedRemoval } from '../helpers/entries.js';
import { Manifest, openManifest } from '../../src/state/manifest.js';
import type { ManifestData } from '../../src/state/manifest-format.js';
import { ManifestView } from '../../src/state/manifest-view.js';
import { connect } from '../../src/state/postgres/connection.js';
import { loadFolder, PgStateStore } from '../../src/state/postgres/store.js';
import type { StateStore } from '../../src/state/store.js';
import type { PendingDelete, PendingUpload, Suspect, UnsettledAttempt } from '../../src/types.js';
import { onCleanup } from '../helpers/cleanup.js';
import { testDatabaseUrl, uniqueFolder } from '../helpers/postgres.js';

/** A backend under test: opens a folder's store, and reads what is durable without the store. */
interface Backend {
  open(name: string): Promise<StateStore>;
  durable(name: string): Promise<ManifestData>;
}

// Long enough that no timer write happens during a test: only flush() and durable changes write.
const NO_TIMER = { writeDelayMs: 60_000, maxWriteDelayMs: 60_000 };

async function lowdbBackend(): Promise<Backend> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'files-sync-contract-'));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  return {
    open: (name) => Manifest.open(dir, { name, root: '/srv/docs', workspaceId: null }, NO_TIMER),
    durable: async (name) => (await openManifest(dir, name)).toData(),
  };
}

async function postgresBackend(): Promise<Backend> {
  const url = testDatabaseUrl();
  const reader = connect({ url });
  onCleanup(() => reader.pool.end());
  return {
    open: (name) =>
      PgStateStore.open({ url, folder: { name, root: '/srv/docs', workspaceId: null }, ...NO_TIMER }),
    durable: async (name) => {
      const { manifest } = await loadFolder(reader.pool, { name, root: '' });
      return new ManifestView('db', manifest).toData();
    },
  };
}

const upload = (p: string): PendingUpload => ({
  path: p,
  sha256: 'b'.repeat(64),
  size: 10,
  remoteName: path.posix.basename(p),
  startedAt: '2026-01-02T00:00:00.000Z',
});

const del = (
  fileId: string,
  p: string,
  reason: PendingDelete['reason'],
  notBefore?: string,
): PendingDelete => ({
  fileId,
  path: p,
  reason,
  queuedAt: '2026-01-03T00:00:00.000Z',
  ...(notBefore === undefined ? {} : { notBefore }),
});

const suspect = (fileId: string): Suspect => ({
  fileId,
  filename: 'x.txt',
  sizeBytes: 5,
  createdAt: '2026-01-04T00:00:00.000Z',
  path: 'x.txt',
  why: 'same name and size',
  recordedAt: '2026-01-04T00:00:01.000Z',
});

const attempt = (p: string): UnsettledAttempt => ({
  path: p,
  remoteName: path.posix.basename(p),
  size: 7,
  startedAt: '2026-01-05T00:00:00.000Z',
  settleAfter: '2026-01-05T00:10:00.000Z',
});

describe.each([
  ['lowdb', lowdbBackend],
  ['postgres', postgresBackend],
] as const)('state store contract: %s', (_name, makeBackend) => {
  it('sets, removes and renames entries; a reopen sees exactly what was flushed', async () => {
    const backend = await makeBackend();
    const name = uniqueFolder();
    const store = await backend.open(name);
    expect(store.size).toBe(0);
    expect(store.set('a.txt', entry('file_a'))).toBeUndefined();
    store.set('dir/b.txt', entry('file_b', { expiresAt: '2026-02-01T00:00:00.000Z', size: 2 ** 40 }));
    store.set('c.txt', entry('file_c'));
    expect(store.set('c.txt', entry('file_c2'))?.fileId).toBe('file_c');
    expect(store.remove('a.txt')?.fileId).toBe('file_a');
    expect(store.remove('a.txt')).toBeUndefined();
    expect(store.rename('c.txt', 'moved/c.txt')).toBeUndefined();
    expect(store.size).toBe(2);
    expect(store.findByFileId('file_c2')).toBe('moved/c.txt');
    expect(store.findByFileId('file_a')).toBeUndefined();
    await store.flush();
    expect(store.writeCount).toBeGreaterThan(0);
    await store.close();

    const again = await backend.open(name);
    expect(again.size).toBe(2);
    expect(again.has('c.txt')).toBe(false);
    expect(again.get('moved/c.txt')).toEqual(entry('file_c2'));
    expect(again.get('dir/b.txt')).toEqual(
      entry('file_b', { expiresAt: '2026-02-01T00:00:00.000Z', size: 2 ** 40 }),
    );
    expect([...again.paths()].sort()).toEqual(['dir/b.txt', 'moved/c.txt']);
    expect(again.findByFileId('file_b')).toBe('dir/b.txt');
    expect(again.folder).toMatchObject({ name, root: '/srv/docs', workspaceId: null });
    await again.close();
  });

  it('durable changes are readable without the store once their promise resolves', async () => {
    const backend = await makeBackend();
    const name = uniqueFolder();
    const store = await backend.open(name);
    await store.addPendingUpload(upload('new.txt'), { durable: true });
    await store.addPendingDelete(del('file_old', 'gone.txt', 'removed'), { durable: true });
    await store.addSuspect(suspect('file_s'), { durable: true });
    await store.addUnsettled(attempt('late.txt'), { durable: true });
    const seen = await backend.durable(name);
    expect(seen.pendingUploads['new.txt']).toEqual(upload('new.txt'));
    expect(seen.pendingDeletes['file_old']).toEqual(del('file_old', 'gone.txt', 'removed'));
    expect(seen.suspects['file_s']).toEqual(suspect('file_s'));
    expect(Object.values(seen.unsettled)).toEqual([attempt('late.txt')]);
    // A change without durable waits for the next batch: not visible until flush.
    store.set('n.txt', entry('file_n'));
    expect((await backend.durable(name)).entries['n.txt']).toBeUndefined();
    await store.flush();
    expect((await backend.durable(name)).entries['n.txt']).toEqual(entry('file_n'));
    await store.close();
  });

  it("keeps a queued removal's entry fields (a later move takes its ID back), durable and across a reopen", async () => {
    const backend = await makeBackend();
    const name = uniqueFolder();
    const removal = queuedRemoval('file_r', 'old/r.txt', new Date('2026-01-03T00:00:00.000Z'), {
      sha256: 'c'.repeat(64),
      remoteName: 'r.txt',
      uploadedAt: '2026-01-01T00:00:00.000Z',
      expiresAt: '2026-02-01T00:00:00.000Z',
    });
    const store = await backend.open(name);
    await store.addPendingDelete(removal, { durable: true });
    expect((await backend.durable(name)).pendingDeletes['file_r']).toEqual(removal);
    await store.close();
    const again = await backend.open(name);
    expect(again.pendingDelete('file_r')).toEqual(removal);
    await again.close();
  });

  it('keeps pending sections, previous IDs and stats across a reopen, and removes them', async () => {
    const backend = await makeBackend();
    const name = uniqueFolder();
    const store = await backend.open(name);
    store.set('doc.txt', entry('file_v2'));
    store.addPendingUpload(upload('doc.txt'));
    store.addPendingDelete(del('file_v1', 'doc.txt', 'replaced', '2026-03-01T00:00:00.000Z'));
    store.addPendingDelete(del('file_v0', 'doc.txt', 'removed', '2026-02-01T00:00:00.000Z'));
    store.addPendingDelete(del('file_stray', 'doc.txt', 'stray'));
    store.addSuspect(suspect('file_s1'));
    store.addUnsettled(attempt('doc.txt'));
    store.updateStats({ lastReconcileAt: '2026-01-06T00:00:00.000Z', lastReconcileResult: 'ok' });
    store.updateStats({ lastError: 'boom' });
    await store.close();

    const again = await backend.open(name);
    expect(again.pendingUpload('doc.txt')).toEqual(upload('doc.txt'));
    expect(again.pendingDeletes()).toHaveLength(3);
    expect(again.previousIds('doc.txt')).toEqual([
      { fileId: 'file_v1', reason: 'replaced', until: '2026-03-01T00:00:00.000Z' },
      { fileId: 'file_v0', reason: 'removed', until: '2026-02-01T00:00:00.000Z' },
    ]);
    expect(again.suspect('file_s1')).toEqual(suspect('file_s1'));
    expect(again.unsettled()).toEqual([attempt('doc.txt')]);
    expect(again.stats()).toMatchObject({
      lastReconcileAt: '2026-01-06T00:00:00.000Z',
      lastReconcileResult: 'ok',
      lastError: 'boom',
    });
    again.removePendingUpload('doc.txt');
    again.removePendingDelete('file_v1');
    again.removeSuspect('file_s1');
    again.removeUnsettled(attempt('doc.txt'));
    await again.close();

    const third = await backend.open(name);
    expect(third.pendingUploads()).toEqual([]);
    expect(
      third
        .pendingDeletes()
        .map((d) => d.fileId)
        .sort(),
    ).toEqual(['file_stray', 'file_v0']);
    expect(third.suspects()).toEqual([]);
    expect(third.unsettled()).toEqual([]);
    expect(third.get('doc.txt')?.fileId).toBe('file_v2');
    await third.close();
  });

  it('a path named like an object property is an ordinary key', async () => {
    const backend = await makeBackend();
    const name = uniqueFolder();
    const store = await backend.open(name);
    store.set('__proto__', entry('file_p'));
    store.set('constructor', entry('file_k'));
    await store.close();
    const again = await backend.open(name);
    expect(again.get('__proto__')?.fileId).toBe('file_p');
    expect(again.findByFileId('file_k')).toBe('constructor');
    await again.close();
  });
});
