import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entry } from '../helpers/entries.js';
import type { PendingDelete, PendingUpload } from '../../src/types.js';
import {
  InvalidFolderNameError,
  ManifestClosedError,
  ManifestCorruptError,
  ManifestNotFoundError,
  ManifestVersionError,
  ManifestWriteError,
} from '../../src/state/errors.js';
import { Manifest, openManifest } from '../../src/state/manifest.js';
import { waitFor } from '../helpers/wait.js';

const folder = { name: 'docs', root: '/srv/docs' };
// Long enough that no timer write happens during a test unless the test waits for one.
const NO_TIMER = { writeDelayMs: 60_000, maxWriteDelayMs: 60_000 };

function pendingUpload(p: string): PendingUpload {
  return {
    path: p,
    sha256: 'b'.repeat(64),
    size: 10,
    remoteName: path.posix.basename(p),
    startedAt: new Date().toISOString(),
  };
}

function pendingDelete(fileId: string): PendingDelete {
  return { fileId, path: 'old.txt', reason: 'removed', queuedAt: new Date().toISOString() };
}

let dir: string;
let stateDir: string;
const open: Manifest[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'files-sync-manifest-'));
  stateDir = path.join(dir, 'state');
});

afterEach(async () => {
  for (const m of open.splice(0)) await m.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

async function openTracked(options = NO_TIMER): Promise<Manifest> {
  const m = await Manifest.open(stateDir, folder, options);
  open.push(m);
  return m;
}

/** What a reader finds on disk now (head, shards and journal merged), as one plain object. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the assertions check its fields
async function onDisk(dir = stateDir): Promise<Record<string, any>> {
  return JSON.parse(JSON.stringify((await openManifest(dir, 'docs')).toData())) as Record<string, unknown>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw JSON of the head file
async function headOnDisk(): Promise<Record<string, any>> {
  return JSON.parse(await readFile(path.join(stateDir, 'docs.manifest.json'), 'utf8')) as Record<
    string,
    unknown
  >;
}

describe('Manifest basics', () => {
  it('creates a private state dir and a 0600 manifest file at open', async () => {
    const m = await openTracked();
    expect(m.file).toBe(path.join(stateDir, 'docs.manifest.json'));
    expect((await stat(stateDir)).mode & 0o777).toBe(0o700);
    expect((await stat(m.file)).mode & 0o777).toBe(0o600);
    expect(await onDisk()).toEqual({
      version: 4,
      folder,
      entries: {},
      pendingUploads: {},
      pendingDeletes: {},
      suspects: {},
      unsettled: {},
      stats: {},
    });
    expect((await stat(path.join(stateDir, 'docs.manifest.d'))).mode & 0o777).toBe(0o700);
    expect(m.size).toBe(0);
  });

  it('says when two entries share a file ID, which the index cannot hold for both', async () => {
    const m = await openTracked();
    m.set('a.txt', entry('file_a'));
    m.set('b.txt', entry('file_b'));
    expect(m.fileIdsDistinct).toBe(true);
    // A damaged state: b.txt records a.txt's ID too. Removing b.txt drops the ID a.txt still has.
    m.set('b.txt', entry('file_a'));
    expect(m.fileIdsDistinct).toBe(false);
    m.remove('b.txt');
    expect(m.findByFileId('file_a')).toBeUndefined();
    expect(m.fileIdsDistinct).toBe(false);
    m.set('a.txt', entry('file_a3'));
    expect(m.fileIdsDistinct).toBe(true);
  });

  it('gets, sets, removes and renames entries, keeping the file ID index in step', async () => {
    const m = await openTracked();
    expect(m.set('a.txt', entry('file_a'))).toBeUndefined();
    m.set('dir/b.txt', entry('file_b'));
    expect(m.size).toBe(2);
    expect(m.has('a.txt')).toBe(true);
    expect(m.get('a.txt')?.fileId).toBe('file_a');
    expect(m.findByFileId('file_b')).toBe('dir/b.txt');

    // Replacing a path's version: the old ID is no longer found, the new one is.
    expect(m.set('a.txt', entry('file_a2'))?.fileId).toBe('file_a');
    expect(m.findByFileId('file_a')).toBeUndefined();
    expect(m.findByFileId('file_a2')).toBe('a.txt');
    expect(m.size).toBe(2);

    // A rename onto an occupied path hands back the displaced entry so its ID can be deleted.
    expect(m.rename('a.txt', 'dir/b.txt')?.fileId).toBe('file_b');
    expect(m.has('a.txt')).toBe(false);
    expect(m.findByFileId('file_a2')).toBe('dir/b.txt');
    expect(m.findByFileId('file_b')).toBeUndefined();
    expect(m.size).toBe(1);
    expect(m.rename('missing', 'x')).toBeUndefined();

    expect(m.remove('dir/b.txt')?.fileId).toBe('file_a2');
    expect(m.remove('dir/b.txt')).toBeUndefined();
    expect(m.findByFileId('file_a2')).toBeUndefined();
    expect(m.size).toBe(0);
    expect([...m.paths()]).toEqual([]);
  });

  it('persists entries, intents and stats across close and reopen, and keeps a backup of the opened state', async () => {
    const m = await openTracked();
    m.set('a.txt', entry('file_a'));
    m.addPendingUpload(pendingUpload('new.pdf'));
    m.addPendingDelete(pendingDelete('file_old'));
    m.updateStats({ lastReconcileAt: '2026-01-01T00:00:00Z' });
    m.updateStats({ lastError: 'none' });
    await m.close();

    const again = await openTracked();
    expect([...again.entries()]).toEqual([['a.txt', entry('file_a')]]);
    expect(again.pendingUploads()).toEqual(
      [pendingUpload('new.pdf')].map((p) => ({ ...p, startedAt: expect.any(String) })),
    );
    expect(again.pendingDeletes().map((d) => d.fileId)).toEqual(['file_old']);
    expect(again.stats()).toEqual({ lastReconcileAt: '2026-01-01T00:00:00Z', lastError: 'none' });
    expect(again.findByFileId('file_a')).toBe('a.txt');
    again.set('b.txt', entry('file_b'));
    await again.snapshot();
    // The backup is laid out like a state dir and still holds the state as opened.
    const bak = await onDisk(path.join(stateDir, 'docs.manifest.bak'));
    expect(Object.keys(bak.entries)).toEqual(['a.txt']);
    again.remove('b.txt');

    again.removePendingUpload('new.pdf');
    again.removePendingDelete('file_old');
    await again.flush();
    const disk = await onDisk();
    expect(disk.pendingUploads).toEqual({});
    expect(disk.pendingDeletes).toEqual({});
  });

  it('reads back every entry field as written, from shards and from the journal, whatever its MIME type', async () => {
    const docx = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
    const written = [
      ['a.docx', entry('file_a', { mimeType: docx, expiresAt: '2027-01-01T00:00:00.000Z' })],
      ['b.docx', entry('file_b', { mimeType: docx })],
      ['c.pdf', entry('file_c', { mimeType: 'application/pdf' })],
    ] as const;
    const m = await openTracked();
    for (const [p, e] of written.slice(0, 2)) m.set(p, e);
    await m.snapshot();
    // The third only in the journal: a reopen replays it over the shards.
    m.set(written[2][0], written[2][1]);
    await m.flush();
    const reader = await openManifest(stateDir, 'docs');
    expect(Object.fromEntries(reader.entries())).toEqual(Object.fromEntries(written));
    await m.close();
    const again = await openTracked();
    expect(Object.fromEntries(again.entries())).toEqual(Object.fromEntries(written));
    // The caller's objects are never written to.
    expect(written[0][1].mimeType).toBe(docx);
  });

  it('treats paths like __proto__ and constructor as ordinary keys', async () => {
    const m = await openTracked();
    m.set('__proto__', entry('file_proto'));
    m.set('constructor', entry('file_ctor'));
    expect(m.has('toString')).toBe(false);
    expect(m.get('hasOwnProperty')).toBeUndefined();
    await m.close();
    const again = await openTracked();
    expect(again.get('__proto__')?.fileId).toBe('file_proto');
    expect(again.size).toBe(2);
    expect([...again.paths()].sort()).toEqual(['__proto__', 'constructor']);
  });

  it('records a moved folder root on reopen', async () => {
    await (await openTracked()).close();
    const moved = await Manifest.open(stateDir, { name: 'docs', root: '/mnt/new' }, NO_TIMER);
    open.push(moved);
    await moved.flush();
    expect((await onDisk()).folder).toEqual({ name: 'docs', root: '/mnt/new' });
  });

  it('refuses folder names that are not a single file name', async () => {
    for (const name of ['', '..', 'a/b', 'a\\b']) {
      await expect(Manifest.open(stateDir, { name, root: '/x' })).rejects.toBeInstanceOf(
        InvalidFolderNameError,
      );
    }
  });

  it('throws ManifestClosedError on mutation after close', async () => {
    const m = await openTracked();
    await m.close();
    expect(() => m.set('a', entry('f'))).toThrow(ManifestClosedError);
  });
});

describe('Manifest writes', () => {
  it('turns 10k set() calls into a handful of writes', async () => {
    const m = await openTracked({ writeDelayMs: 200, maxWriteDelayMs: 2000 });
    const before = m.writeCount;
    for (let i = 0; i < 10_000; i++) {
      m.set(`dir${i % 50}/file${i}.txt`, entry(`file_${i}`));
      if (i % 500 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await m.close();
    expect(m.writeCount - before).toBeGreaterThanOrEqual(1);
    expect(m.writeCount - before).toBeLessThanOrEqual(5);
    expect(Object.keys((await onDisk()).entries)).toHaveLength(10_000);
  });

  it('keeps every entry set while a snapshot reshards, after the next snapshot folds the journal', async () => {
    const m = await openTracked();
    // Over one shard's worth: the next snapshot splits the state into more shards.
    for (let i = 0; i < 5_000; i++) m.set(`a${i % 40}/f${i}.txt`, entry(`file_a${i}`));
    const resharding = m.snapshot();
    let done = false;
    void resharding.finally(() => (done = true));
    // Changes made while the shards are written (one a tick); few enough that the next snapshot
    // does not reshard again (which would rewrite every shard and hide a lost mark).
    let n = 0;
    while (!done) {
      if (n < 2_000) m.set(`b${n % 40}/f${n}.txt`, entry(`file_b${n++}`));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await resharding;
    expect(n).toBeGreaterThan(0);
    // This snapshot folds the journal that held those changes: they must be in its shards.
    await m.close();
    expect(Object.keys((await onDisk()).entries)).toHaveLength(5_000 + n);
  });

  it('writes after the quiet period without an explicit flush', async () => {
    const m = await openTracked({ writeDelayMs: 50, maxWriteDelayMs: 1000 });
    m.set('a.txt', entry('file_a'));
    await waitFor(async () => (await onDisk()).entries['a.txt']?.fileId === 'file_a', {
      message: 'debounced write',
    });
  });

  it('writes within the max delay even while mutations never stop', async () => {
    // The quiet period never arrives (a mutation every 10 ms against a 1 s delay); only the cap can write.
    const m = await openTracked({ writeDelayMs: 1000, maxWriteDelayMs: 1500 });
    let i = 0;
    const busy = setInterval(() => m.set(`f${i++}`, entry(`file_${i}`)), 10);
    try {
      await waitFor(() => m.writeCount >= 2, { message: 'a write forced by maxWriteDelayMs' });
    } finally {
      clearInterval(busy);
    }
  });

  it('has durable pending intents on disk when the promise resolves', async () => {
    const m = await openTracked();
    await m.addPendingUpload(pendingUpload('big.pdf'), { durable: true });
    expect((await onDisk()).pendingUploads['big.pdf']?.path).toBe('big.pdf');
    await m.addPendingDelete(pendingDelete('file_x'), { durable: true });
    expect((await onDisk()).pendingDeletes['file_x']?.fileId).toBe('file_x');
  });

  it('coalesces many concurrent durable writes into at most two', async () => {
    const m = await openTracked();
    const before = m.writeCount;
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => m.addPendingUpload(pendingUpload(`f${i}.txt`), { durable: true })),
    );
    expect(m.writeCount - before).toBeLessThanOrEqual(2);
    expect(Object.keys((await onDisk()).pendingUploads)).toHaveLength(50);
  });

  it('a durable write made during another write waits for a write that includes it', async () => {
    const m = await openTracked();
    m.set('a.txt', entry('file_a'));
    const first = m.flush();
    const second = m.addPendingUpload(pendingUpload('b.txt'), { durable: true });
    await second;
    const disk = await onDisk();
    expect(disk.entries['a.txt']).toBeDefined();
    expect(disk.pendingUploads['b.txt']).toBeDefined();
    await first;
  });

  it('keeps mode 0600 and leaves no temp files behind after many writes', async () => {
    const m = await openTracked();
    for (let i = 0; i < 20; i++) {
      m.set(`f${i}`, entry(`file_${i}`));
      await m.flush();
    }
    expect((await stat(m.file)).mode & 0o777).toBe(0o600);
    await m.close();
    expect((await readdir(stateDir)).sort()).toEqual([
      'docs.manifest.bak',
      'docs.manifest.d',
      'docs.manifest.json',
    ]);
    // After a clean close: one shard file, no journal, no temp file.
    const files = await readdir(path.join(stateDir, 'docs.manifest.d'));
    expect(files).toEqual([expect.stringMatching(/^entries-0\.\d+\.json$/)]);
    expect((await stat(path.join(stateDir, 'docs.manifest.d', files[0]!))).mode & 0o777).toBe(0o600);
  });

  it('reports a failed write as ManifestWriteError, stays dirty and succeeds once the cause is gone', async () => {
    const m = await openTracked();
    await rm(stateDir, { recursive: true });
    m.set('a.txt', entry('file_a'));
    const err = await m.flush().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ManifestWriteError);
    expect((err as ManifestWriteError).context.file).toBe(m.file);
    await import('node:fs/promises').then((fs) => fs.mkdir(stateDir, { recursive: true }));
    await m.flush();
    expect((await onDisk()).entries['a.txt']?.fileId).toBe('file_a');
  });
});

describe('Manifest corruption and versions', () => {
  const cases: Array<[string, string]> = [
    ['invalid JSON', '{"version":1, "entries": {'],
    ['an empty file', ''],
    ['a JSON array', '[]'],
    [
      'an entry without a file ID',
      JSON.stringify({
        version: 1,
        folder,
        entries: { 'a.txt': { sha256: 'x' } },
        pendingUploads: {},
        pendingDeletes: {},
      }),
    ],
    [
      'a pending delete under the wrong key',
      JSON.stringify({
        version: 1,
        folder,
        entries: {},
        pendingUploads: {},
        pendingDeletes: { k: pendingDelete('other') },
      }),
    ],
  ];
  for (const [name, content] of cases) {
    it(`refuses ${name} with ManifestCorruptError and leaves the file untouched`, async () => {
      const { mkdir } = await import('node:fs/promises');
      await mkdir(stateDir, { recursive: true });
      const file = path.join(stateDir, 'docs.manifest.json');
      await writeFile(file, content);
      const before = await stat(file);
      const err = await Manifest.open(stateDir, folder).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ManifestCorruptError);
      expect((err as ManifestCorruptError).message).toContain(file);
      expect((err as ManifestCorruptError).context.file).toBe(file);
      expect(await readFile(file, 'utf8')).toBe(content);
      expect((await stat(file)).mtimeMs).toBe(before.mtimeMs);
      expect(await readdir(stateDir)).toEqual(['docs.manifest.json']);
      await expect(openManifest(stateDir, 'docs')).rejects.toBeInstanceOf(ManifestCorruptError);
    });
  }

  it('refuses a manifest from a newer version with ManifestVersionError', async () => {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(stateDir, { recursive: true });
    await writeFile(path.join(stateDir, 'docs.manifest.json'), JSON.stringify({ version: 5, stuff: true }));
    await expect(Manifest.open(stateDir, folder)).rejects.toMatchObject({
      name: 'ManifestVersionError',
      context: { version: 5, supported: 4 },
    });
    await expect(Manifest.open(stateDir, folder)).rejects.toBeInstanceOf(ManifestVersionError);
  });

  it('opens a v0 manifest (no version, no pending sections) and writes it back as v4', async () => {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(stateDir, { recursive: true });
    await writeFile(
      path.join(stateDir, 'docs.manifest.json'),
      JSON.stringify({ entries: { 'a.txt': entry('file_a') } }),
    );
    const m = await openTracked();
    expect(m.get('a.txt')?.fileId).toBe('file_a');
    await m.flush();
    const disk = await onDisk();
    expect((await headOnDisk()).version).toBe(4);
    expect(disk.folder).toEqual(folder);
    expect(disk.pendingUploads).toEqual({});
  });
});

describe('openManifest (read-only)', () => {
  it('throws ManifestNotFoundError and creates nothing when there is no manifest', async () => {
    await expect(openManifest(stateDir, 'docs')).rejects.toBeInstanceOf(ManifestNotFoundError);
    await expect(stat(stateDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('reads entries and file IDs and sees new writes after reload, never writing itself', async () => {
    const writer = await openTracked();
    writer.set('a.txt', entry('file_a'));
    await writer.flush();
    const reader = await openManifest(stateDir, 'docs');
    expect(reader.get('a.txt')?.fileId).toBe('file_a');
    expect(reader.findByFileId('file_a')).toBe('a.txt');
    const mtime = (await stat(writer.file)).mtimeMs;

    writer.set('b.txt', entry('file_b'));
    await writer.flush();
    expect(reader.has('b.txt')).toBe(false);
    await reader.reload();
    expect(reader.findByFileId('file_b')).toBe('b.txt');
    expect(reader.size).toBe(2);
    expect((await stat(writer.file)).mtimeMs).toBeGreaterThanOrEqual(mtime);
  });

  it('always reads a complete manifest while another instance keeps writing', async () => {
    const writer = await openTracked();
    const reader = await openManifest(stateDir, 'docs');
    let done = false;
    const seen = new Set<number>();
    const reading = (async () => {
      while (!done) {
        await reader.reload();
        // Each flush adds exactly 200 entries, so a complete file always holds a multiple of 200.
        expect(reader.size % 200).toBe(0);
        seen.add(reader.size);
      }
    })();
    for (let round = 0; round < 25; round++) {
      for (let i = 0; i < 200; i++) writer.set(`r${round}/f${i}.txt`, entry(`file_${round}_${i}`));
      await writer.flush();
    }
    done = true;
    await reading;
    await reader.reload();
    expect(reader.size).toBe(5000);
    expect(seen.size).toBeGreaterThan(1);
  });
});
