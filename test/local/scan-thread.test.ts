/** The walk on a thread of its own (scan-thread.ts): the same result as scanFolder on the main thread, the same errors, and an abort that ends it. */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPathFilter, type PathFilterOptions } from '../../src/local/filter.js';
import { FolderUnavailableError, scanFolder, type ScanResult } from '../../src/local/scan.js';
import {
  runScanThread,
  ScanThreadUnavailable,
  scanOnThread,
  startThreadScan,
  type ScanRequest,
} from '../../src/local/scan-thread.js';
import { REPO_ROOT } from '../helpers/project.js';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'files-sync-scan-thread-'));
});

afterEach(() => rm(root, { recursive: true, force: true }));

/** A result in a form that compares whole: entries and skips sorted by path. */
function comparable(r: ScanResult) {
  const byPath = (a: { path: string }, b: { path: string }) => a.path.localeCompare(b.path);
  return {
    entries: [...r.entries.values()].sort(byPath),
    keys: [...r.entries.keys()].sort(),
    skipped: [...r.skipped].sort(byPath),
    dirs: r.dirs,
    unreadableDirs: [...r.unreadableDirs].sort(),
  };
}

async function onBothThreads(request: ScanRequest) {
  const here = await scanFolder(request.root, {
    filter: createPathFilter(request.filter),
    followSymlinks: request.followSymlinks,
  });
  const there = await runScanThread(request);
  return { here: comparable(here), there: comparable(there) };
}

/** Files in nested directories, names the default excludes drop, a state dir inside, links, a FIFO and a name that is not UTF-8. */
async function writeTree(): Promise<void> {
  for (let d = 0; d < 3; d++) {
    await mkdir(path.join(root, `d${d}`, 'sub'), { recursive: true });
    for (let f = 0; f < 40; f++) await writeFile(path.join(root, `d${d}`, `f${f}.txt`), 'x'.repeat(f));
    await writeFile(path.join(root, `d${d}`, 'sub', 'deep.md'), '# deep');
  }
  await writeFile(path.join(root, 'd0', '.f1.txt.swp'), 'swap');
  await writeFile(path.join(root, 'd1', 'notes.log'), 'log');
  await mkdir(path.join(root, 'node_modules', 'pkg'), { recursive: true });
  await writeFile(path.join(root, 'node_modules', 'pkg', 'index.js'), '');
  await mkdir(path.join(root, '.state'));
  await writeFile(path.join(root, '.state', 'folder.manifest.json'), '{}');
  await writeFile(path.join(root, 'top.pdf'), '%PDF');
  await symlink(path.join(root, 'top.pdf'), path.join(root, 'link.pdf'));
  await symlink(path.join(root, 'd2'), path.join(root, 'linkdir'));
  await symlink(root, path.join(root, 'd1', 'up'));
  await symlink(path.join(root, 'nowhere'), path.join(root, 'dangling'));
  execFileSync('mkfifo', [path.join(root, 'pipe')]);
  writeFileSync(Buffer.concat([Buffer.from(`${root}/bad`), Buffer.from([0xff]), Buffer.from('.txt')]), 'bad');
}

describe('runScanThread', () => {
  const filters: Array<[string, PathFilterOptions]> = [
    ['no patterns', {}],
    [
      'excludes and a state dir inside the folder',
      { exclude: ['**/*.log', 'node_modules/**'], root: '', stateDir: '' },
    ],
    ['includes', { include: ['d1', '**/*.md', 'top.pdf'] }],
  ];

  for (const [name, options] of filters) {
    for (const followSymlinks of [false, true]) {
      it(`finds what scanFolder finds: ${name}, ${followSymlinks ? 'following' : 'not following'} links`, async () => {
        await writeTree();
        const filter =
          'stateDir' in options ? { ...options, root, stateDir: path.join(root, '.state') } : options;
        const { here, there } = await onBothThreads({ root, filter, followSymlinks });
        expect(there).toEqual(here);
        // The tree has something of every kind, so the comparison covers every kind.
        expect(there.keys.length).toBeGreaterThan(followSymlinks ? 40 : 10);
        expect(new Set(there.skipped.map((s) => s.reason)).size).toBeGreaterThanOrEqual(
          name === 'includes' ? 1 : 3,
        );
      });
    }
  }

  it('carries the size, mtime and inode of every file across exactly', async () => {
    await writeFile(path.join(root, 'a.txt'), 'a'.repeat(12345));
    const [entry] = (await runScanThread({ root, filter: {}, followSymlinks: false })).entries.values();
    const here = (await scanFolder(root, { filter: createPathFilter() })).entries.get('a.txt');
    expect(entry).toEqual(here);
    expect(entry?.size).toBe(12345);
  });

  it('an empty folder gives an empty result', async () => {
    const r = await runScanThread({ root, filter: {}, followSymlinks: false });
    expect(comparable(r)).toEqual({ entries: [], keys: [], skipped: [], dirs: 1, unreadableDirs: [] });
  });

  it('a missing root or one that is a file fails as FolderUnavailableError with its reason, as on the main thread', async () => {
    const missing = runScanThread({ root: path.join(root, 'gone'), filter: {}, followSymlinks: false });
    await expect(missing).rejects.toBeInstanceOf(FolderUnavailableError);
    await expect(missing).rejects.toMatchObject({ context: { reason: 'missing', code: 'ENOENT' } });
    await writeFile(path.join(root, 'file'), '');
    const notDir = runScanThread({ root: path.join(root, 'file'), filter: {}, followSymlinks: false });
    await expect(notDir).rejects.toMatchObject({
      name: 'FolderUnavailableError',
      context: { reason: 'not-a-directory' },
      message: `folder root is not a directory: ${path.join(root, 'file')}`,
    });
  });

  it('an abort rejects with its reason, whether given before the start or during the walk', async () => {
    await writeTree();
    const before = new AbortController();
    before.abort(new Error('stopped before'));
    await expect(runScanThread({ root, filter: {}, followSymlinks: false }, before.signal)).rejects.toThrow(
      'stopped before',
    );
    const during = new AbortController();
    const pending = startThreadScan({ root, filter: {}, followSymlinks: false }, during.signal);
    during.abort(new Error('stopped during'));
    await expect(pending.result).rejects.toThrow('stopped during');
    const cancelled = startThreadScan({ root, filter: {}, followSymlinks: false });
    cancelled.cancel(new Error('cancelled'));
    await expect(cancelled.result).rejects.toThrow('cancelled');
  });
});

describe('scanOnThread', () => {
  it('scans on the main thread when the thread cannot start, with the same result', async () => {
    await writeTree();
    const request: ScanRequest = { root, filter: { exclude: ['**/*.log'] }, followSymlinks: false };
    const workerUrl = new URL('./no-such-scan-worker.js', import.meta.url);
    await expect(runScanThread(request, undefined, { workerUrl })).rejects.toBeInstanceOf(
      ScanThreadUnavailable,
    );
    const fallback = comparable(await scanOnThread(request, undefined, { workerUrl }));
    expect(fallback).toEqual(comparable(await runScanThread(request)));
    expect(fallback.keys.length).toBeGreaterThan(10);
  });
});

describe('the built scan thread', () => {
  it('finds its module beside the built scan-thread.js (dist/, as installed)', async () => {
    const built = path.join(REPO_ROOT, 'dist', 'local', 'scan-thread.js');
    expect(existsSync(built), 'dist/ is built by `npm ci` (prepare) or `npm run build`').toBe(true);
    const mod = (await import(pathToFileURL(built).href)) as { runScanThread: typeof runScanThread };
    await writeFile(path.join(root, 'a.txt'), 'a');
    const r = await mod.runScanThread({ root, filter: {}, followSymlinks: false });
    expect([...r.entries.keys()]).toEqual(['a.txt']);
  });
});

describe('startThreadScan batches', () => {
  it('hands every file to a follower once, in walk order, in several batches, from the start or after the end', async () => {
    for (let d = 0; d < 100; d++) {
      await mkdir(path.join(root, `d${d}`));
      for (let f = 0; f < 30; f++) await writeFile(path.join(root, `d${d}`, `f${f}.txt`), 'x');
    }
    const pending = startThreadScan({ root, filter: {}, followSymlinks: false, batchMs: 1 });
    const early: string[] = [];
    const maps = new Set<ReadonlyMap<string, unknown>>();
    let batches = 0;
    pending.follow((added, into) => {
      batches++;
      maps.add(into);
      for (const e of added) early.push(e.path);
    });
    const result = await pending.result;
    const late: string[] = [];
    pending.follow((added, into) => {
      maps.add(into);
      for (const e of added) late.push(e.path);
    });
    expect(result.entries.size).toBe(3000);
    expect(early).toEqual([...result.entries.keys()]);
    expect(late).toEqual(early);
    expect([...maps]).toEqual([result.entries]);
    expect(batches).toBeGreaterThan(1);

    // No batch before the end: everything comes with the result, in one call.
    const once = startThreadScan({ root, filter: {}, followSymlinks: false, batchMs: 60_000 });
    const calls: number[] = [];
    once.follow((added) => calls.push(added.length));
    await once.result;
    expect(calls).toEqual([3000]);
  });
});
