import { execFileSync } from 'node:child_process';
import nodeFs from 'node:fs';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createPathFilter } from '../../src/local/filter.js';
import {
  FolderUnavailableError,
  isSkippedPath,
  scanFolder,
  statEntry,
  type FsLike,
} from '../../src/local/scan.js';
import { createTestFs, fsError, recordingFs } from './memfs-helpers.js';

const everything = createPathFilter();

function sortedKeys(map: Map<string, unknown>): string[] {
  return [...map.keys()].sort();
}

describe('scanFolder on memfs', () => {
  it('reports regular files with relative POSIX paths, sizes, mtimes and inodes', async () => {
    const { fs, api } = createTestFs({
      '/root/a.txt': 'hello',
      '/root/sub/deep/b.bin': 'xy',
      '/root/empty': null,
    });
    const result = await scanFolder('/root', { filter: everything, fs: api });
    expect(sortedKeys(result.entries)).toEqual(['a.txt', 'sub/deep/b.bin']);
    const a = result.entries.get('a.txt')!;
    const st = fs.statSync('/root/a.txt');
    expect(a).toEqual({ path: 'a.txt', size: 5, mtimeMs: st.mtimeMs, ino: st.ino });
    expect(result.dirs).toBe(4);
    expect(result.skipped).toEqual([]);
    expect(result.unreadableDirs).toEqual([]);
  });

  it('applies include/exclude and never lists a pruned directory', async () => {
    const { api } = createTestFs({
      '/r/src/a.ts': '1',
      '/r/src/a.log': '1',
      '/r/node_modules/pkg/index.js': '1',
      '/r/.git/config': '1',
      '/r/sub/.git/HEAD': '1',
      '/r/.notes.swp': '1',
    });
    const rec = recordingFs(api);
    const filter = createPathFilter({ exclude: ['node_modules/**', '**/.git', '**/*.log'] });
    const result = await scanFolder('/r', { filter, fs: rec.fs });
    expect(sortedKeys(result.entries)).toEqual(['src/a.ts']);
    const listed = rec.calls.filter((c) => c.op === 'readdir').map((c) => c.path);
    expect(listed.sort()).toEqual(['/r', '/r/src', '/r/sub']);
  });

  it('skips symlinks by default and reports them', async () => {
    const { fs, api } = createTestFs({ '/r/real.txt': 'x', '/r/dir/inner.txt': 'y' });
    fs.symlinkSync('/r/real.txt', '/r/link.txt');
    fs.symlinkSync('/r/dir', '/r/linkdir');
    const result = await scanFolder('/r', { filter: everything, fs: api });
    expect(sortedKeys(result.entries)).toEqual(['dir/inner.txt', 'real.txt']);
    expect(result.skipped.sort((a, b) => a.path.localeCompare(b.path))).toEqual([
      { path: 'link.txt', reason: 'symlink' },
      { path: 'linkdir', reason: 'symlink' },
    ]);
  });

  it('follows symlinks when asked, reporting the target stat under the link path', async () => {
    const { fs, api } = createTestFs({
      '/r/real.txt': 'xyz',
      '/r/dir/inner.txt': 'y',
      '/outside/o.txt': 'oo',
    });
    fs.symlinkSync('/r/real.txt', '/r/link.txt');
    fs.symlinkSync('/outside', '/r/out');
    fs.symlinkSync('/nowhere', '/r/dangling');
    const result = await scanFolder('/r', { filter: everything, fs: api, followSymlinks: true });
    expect(sortedKeys(result.entries)).toEqual(['dir/inner.txt', 'link.txt', 'out/o.txt', 'real.txt']);
    expect(result.entries.get('link.txt')!.ino).toBe(fs.statSync('/r/real.txt').ino);
    expect(result.skipped).toEqual([{ path: 'dangling', reason: 'symlink', detail: 'dangling (ENOENT)' }]);
  });

  it('detects symlink loops instead of walking forever', async () => {
    const { fs, api } = createTestFs({ '/r/a/file.txt': '1', '/r/b/other.txt': '2' });
    fs.symlinkSync('/r', '/r/a/up'); // points at an ancestor
    fs.symlinkSync('/r/a', '/r/b/to-a'); // a sibling: fine once, loops back through a/up
    const result = await scanFolder('/r', { filter: everything, fs: api, followSymlinks: true });
    expect(sortedKeys(result.entries)).toEqual(['a/file.txt', 'b/other.txt', 'b/to-a/file.txt']);
    expect(result.skipped.map((s) => [s.path, s.reason]).sort()).toEqual([
      ['a/up', 'symlink-loop'],
      ['b/to-a/up', 'symlink-loop'],
    ]);
  });

  it('reports an unreadable subdirectory and lists it in unreadableDirs, and keeps scanning the rest', async () => {
    const { fs, api } = createTestFs({ '/r/ok/a.txt': '1', '/r/locked/secret.txt': '2', '/r/top.txt': '3' });
    fs.chmodSync('/r/locked', 0o000);
    const result = await scanFolder('/r', { filter: everything, fs: api });
    expect(sortedKeys(result.entries)).toEqual(['ok/a.txt', 'top.txt']);
    expect(result.skipped).toEqual([{ path: 'locked', reason: 'unreadable', detail: 'EACCES' }]);
    expect(result.unreadableDirs).toEqual(['locked']);
  });

  it('treats a listable but unsearchable directory as unreadable, per file', async () => {
    const { fs, api } = createTestFs({ '/r/noexec/a.txt': '1' });
    fs.chmodSync('/r/noexec', 0o444); // read without search: names visible, lstat refused
    const result = await scanFolder('/r', { filter: everything, fs: api });
    expect(result.entries.size).toBe(0);
    expect(result.skipped).toEqual([{ path: 'noexec/a.txt', reason: 'unreadable', detail: 'EACCES' }]);
    expect(result.unreadableDirs).toEqual(['noexec/a.txt']);
  });

  it('reports files that vanish between readdir and lstat', async () => {
    const { api } = createTestFs({ '/r/stays.txt': '1', '/r/goes.txt': '2' });
    const rec = recordingFs(api, {
      beforeCall: (op, p) => {
        if (op === 'lstat' && p === '/r/goes.txt') throw fsError('ENOENT', p);
      },
    });
    const result = await scanFolder('/r', { filter: everything, fs: rec.fs });
    expect(sortedKeys(result.entries)).toEqual(['stays.txt']);
    expect(result.skipped).toEqual([{ path: 'goes.txt', reason: 'vanished', detail: 'ENOENT' }]);
    expect(result.unreadableDirs).toEqual([]);
  });

  it('returns large files with their size (the planner decides)', async () => {
    const { api } = createTestFs({ '/r/big.bin': '' });
    const big = 600 * 1024 * 1024;
    const rec = recordingFs(api);
    const inner = rec.fs.lstat;
    rec.fs.lstat = async (p) => ({ ...(await inner(p)), size: big, isFile: () => true });
    const result = await scanFolder('/r', { filter: everything, fs: rec.fs });
    expect(result.entries.get('big.bin')!.size).toBe(big);
  });

  it('throws FolderUnavailableError for a missing root or a root that is a file', async () => {
    const { api } = createTestFs({ '/file.txt': 'x' });
    const missing = scanFolder('/nope', { filter: everything, fs: api });
    await expect(missing).rejects.toBeInstanceOf(FolderUnavailableError);
    await expect(missing).rejects.toMatchObject({ context: { root: '/nope', reason: 'missing' } });
    await expect(scanFolder('/file.txt', { filter: everything, fs: api })).rejects.toMatchObject({
      name: 'FolderUnavailableError',
      context: { reason: 'not-a-directory' },
    });
  });

  it('throws FolderUnavailableError for an unreadable root', async () => {
    const { fs, api } = createTestFs({ '/r/a.txt': 'x' });
    fs.chmodSync('/r', 0o000);
    await expect(scanFolder('/r', { filter: everything, fs: api })).rejects.toMatchObject({
      name: 'FolderUnavailableError',
      context: { reason: 'unreadable', code: 'EACCES' },
    });
  });

  it('keeps at most `concurrency` calls in flight and still sees every file', async () => {
    const tree: Record<string, string> = {};
    for (let d = 0; d < 20; d++) for (let f = 0; f < 30; f++) tree[`/r/d${d}/f${f}.txt`] = 'x';
    const { api } = createTestFs(tree);
    const rec = recordingFs(api, { beforeCall: () => new Promise((resolve) => setImmediate(resolve)) });
    const result = await scanFolder('/r', { filter: everything, fs: rec.fs, concurrency: 4 });
    expect(result.entries.size).toBe(600);
    expect(rec.maxInFlight()).toBeLessThanOrEqual(4);
    expect(rec.maxInFlight()).toBeGreaterThan(1);
  });

  it('stops when the signal aborts', async () => {
    const tree: Record<string, string> = {};
    for (let f = 0; f < 50; f++) tree[`/r/f${f}.txt`] = 'x';
    const { api } = createTestFs(tree);
    const controller = new AbortController();
    let lstats = 0;
    const rec = recordingFs(api, {
      beforeCall: (op) => {
        if (op === 'lstat' && ++lstats === 5) controller.abort(new Error('stop now'));
      },
    });
    await expect(
      scanFolder('/r', { filter: everything, fs: rec.fs, signal: controller.signal }),
    ).rejects.toThrow('stop now');
    expect(lstats).toBeLessThan(50);
  });
});

describe('statEntry on memfs', () => {
  it('returns the entry of a file, null for a missing path or a directory', async () => {
    const { fs, api } = createTestFs({ '/r/a.txt': 'abc', '/r/dir': null });
    const st = fs.statSync('/r/a.txt');
    expect(await statEntry('/r', 'a.txt', { fs: api })).toEqual({
      path: 'a.txt',
      size: 3,
      mtimeMs: st.mtimeMs,
      ino: st.ino,
    });
    expect(await statEntry('/r', 'gone.txt', { fs: api })).toBeNull();
    expect(await statEntry('/r', 'dir', { fs: api })).toBeNull();
    expect(await statEntry('/r', 'a.txt/below', { fs: api })).toBeNull();
  });

  it('reports symlinks as skipped unless following them', async () => {
    const { fs, api } = createTestFs({ '/r/a.txt': 'abc' });
    fs.symlinkSync('/r/a.txt', '/r/l');
    fs.symlinkSync('/r/missing', '/r/d');
    expect(await statEntry('/r', 'l', { fs: api })).toEqual({ path: 'l', reason: 'symlink' });
    const followed = await statEntry('/r', 'l', { fs: api, followSymlinks: true });
    expect(followed !== null && !isSkippedPath(followed) && followed.size).toBe(3);
    expect(await statEntry('/r', 'd', { fs: api, followSymlinks: true })).toMatchObject({
      reason: 'symlink',
    });
  });

  it('throws FolderUnavailableError instead of "missing" when the root itself is gone', async () => {
    const { api } = createTestFs({ '/other': null });
    await expect(statEntry('/r', 'a.txt', { fs: api })).rejects.toBeInstanceOf(FolderUnavailableError);
  });

  it('reports an unreadable path', async () => {
    const { fs, api } = createTestFs({ '/r/locked/a.txt': 'abc' });
    fs.chmodSync('/r/locked', 0o000);
    expect(await statEntry('/r', 'locked/a.txt', { fs: api })).toEqual({
      path: 'locked/a.txt',
      reason: 'unreadable',
      detail: 'EACCES',
    });
  });
});

describe('scanFolder on a real folder', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('skips FIFOs and sockets as special files', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'files-sync-scan-'));
    await mkdir(path.join(dir, 'sub'));
    await writeFile(path.join(dir, 'sub', 'plain.txt'), 'data');
    await symlink(path.join(dir, 'sub', 'plain.txt'), path.join(dir, 'link'));
    execFileSync('mkfifo', [path.join(dir, 'pipe')]);
    const server = net.createServer();
    const socketPath = path.join(dir, 'sub', 'sock');
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const result = await scanFolder(dir, { filter: everything });
      expect(sortedKeys(result.entries)).toEqual(['sub/plain.txt']);
      expect(result.skipped.sort((a, b) => a.path.localeCompare(b.path))).toEqual([
        { path: 'link', reason: 'symlink' },
        { path: 'pipe', reason: 'special', detail: 'fifo' },
        { path: 'sub/sock', reason: 'special', detail: 'socket' },
      ]);
      expect(await statEntry(dir, 'pipe')).toEqual({ path: 'pipe', reason: 'special', detail: 'fifo' });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  // Linux file names are bytes; these are not UTF-8, so Node's string names for them are lossy.
  it.runIf(process.platform === 'linux')(
    'reports each name that is not valid UTF-8 as such, separately, and keeps scanning the rest',
    async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'files-sync-scan-'));
      const raw = (...parts: Array<string | number[]>): Buffer =>
        Buffer.concat([
          Buffer.from(`${dir}/`),
          ...parts.map((x) => (typeof x === 'string' ? Buffer.from(x) : Buffer.from(x))),
        ]);
      await writeFile(raw('bad', [0xff], '.txt'), 'one');
      await writeFile(raw('bad', [0xfe], '.txt'), 'two'); // decodes to the same string as the one above
      await mkdir(raw('dir', [0xe9]));
      await writeFile(raw('dir', [0xe9], '/inside.txt'), 'hidden by its parent');
      await writeFile(path.join(dir, 'caf\u00e9 \uFFFD ok.txt'), 'valid UTF-8, U+FFFD included');
      await writeFile(path.join(dir, 'good.txt'), 'fine');

      const result = await scanFolder(dir, { filter: everything });
      expect(sortedKeys(result.entries)).toEqual(['caf\u00e9 \uFFFD ok.txt', 'good.txt']);
      const detail = 'name is not valid UTF-8; rename it';
      expect(result.skipped.sort((a, b) => a.path.localeCompare(b.path))).toEqual([
        { path: 'bad\\xfe.txt', reason: 'invalid-name', detail },
        { path: 'bad\\xff.txt', reason: 'invalid-name', detail },
        { path: 'dir\\xe9', reason: 'invalid-name', detail },
      ]);
      expect(result.unreadableDirs).toEqual([]);

      // What a watcher reports for such a file: the lossy name, which lstat cannot find.
      expect(await statEntry(dir, 'bad\uFFFD.txt')).toMatchObject({ reason: 'invalid-name', detail });
      expect(await statEntry(dir, 'gone \uFFFD.txt')).toBeNull();
      expect(await statEntry(dir, 'gone.txt')).toBeNull();
    },
  );
});

describe('scanFolder on the real file system (synchronous lstats per directory)', () => {
  it('finds the same entries and skips with and without lstatSync, and hands a failed one to the async path', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'scan-sync-'));
    try {
      await mkdir(path.join(root, 'd', 'e'), { recursive: true });
      for (const f of ['a.txt', 'd/b.txt', 'd/e/c.txt', 'gone.txt']) await writeFile(path.join(root, f), f);
      await symlink('a.txt', path.join(root, 'link'));
      const asyncOnly: FsLike = {
        lstat: (p) => nodeFs.promises.lstat(p),
        stat: (p) => nodeFs.promises.stat(p),
        readdir: nodeFs.promises.readdir,
      };
      const withSync = await scanFolder(root, { filter: everything });
      const without = await scanFolder(root, { filter: everything, fs: asyncOnly });
      expect([...withSync.entries.entries()].sort()).toEqual([...without.entries.entries()].sort());
      expect(withSync.skipped).toEqual([{ path: 'link', reason: 'symlink' }]);
      expect(without.skipped).toEqual(withSync.skipped);

      // A sync lstat that fails goes the asynchronous way, which reports what it finds then.
      const failing: FsLike = {
        ...asyncOnly,
        lstatSync: (p) => {
          if (p.endsWith('gone.txt')) throw Object.assign(new Error('gone'), { code: 'ENOENT' });
          return nodeFs.lstatSync(p);
        },
        lstat: async (p) => {
          if (p.endsWith('gone.txt')) throw Object.assign(new Error('gone'), { code: 'ENOENT' });
          return nodeFs.promises.lstat(p);
        },
      };
      const raced = await scanFolder(root, { filter: everything, fs: failing });
      expect(raced.entries.has('gone.txt')).toBe(false);
      expect(raced.entries.has('d/e/c.txt')).toBe(true);
      expect(raced.skipped).toContainEqual({ path: 'gone.txt', reason: 'vanished', detail: 'ENOENT' });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('stats each file at its path under the root, however the root is written', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'scan-root-'));
    try {
      await mkdir(path.join(root, 'd', 'e'), { recursive: true });
      for (const f of ['a.txt', 'd/b.txt', 'd/e/c.txt']) await writeFile(path.join(root, f), f);
      for (const written of [root, `${root}/`, `${root}//`, `${root}/d/..`]) {
        const statted: string[] = [];
        const recording: FsLike = {
          lstat: (p) => nodeFs.promises.lstat(p),
          stat: (p) => nodeFs.promises.stat(p),
          readdir: nodeFs.promises.readdir,
          lstatSync: (p) => {
            statted.push(p);
            return nodeFs.lstatSync(p);
          },
        };
        const result = await scanFolder(written, { filter: everything, fs: recording });
        expect(sortedKeys(result.entries)).toEqual(['a.txt', 'd/b.txt', 'd/e/c.txt']);
        // Every name is one path segment after the directory's own path, never a doubled separator.
        const expected = ['a.txt', 'd/b.txt', 'd/e/c.txt'].map((f) => path.join(written, f));
        expect(statted.map((p) => path.normalize(p)).sort()).toEqual(expected.sort());
        expect(statted.filter((p) => p.slice(written.length).includes('//'))).toEqual([]);
        expect(result.entries.get('d/e/c.txt')?.size).toBe(9);
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
