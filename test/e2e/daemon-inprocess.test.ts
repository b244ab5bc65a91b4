/**
 * The Daemon and FolderSync in-process, where a test needs to look inside: manifest writes are
 * batched during a burst of 1000 files, a failing watcher falls back to reconciliation, a rename
 * into a new directory stays a move however slow its listing or fresh the changes beside it, a
 * rename whose halves sync apart takes its ID back from the delete queue (and the delete guard
 * does not count it), a path waiting on an unresolved upload intent gets a reconciliation soon, and
 * the start-up reconciliation scans only once the watcher is ready, which the first start sets up
 * while its state is read (and when it is ready first, walks from then on, keeping what it hears).
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { makeProject, remoteNames, runCli, TEST_KEY, type Project } from '../helpers/project.js';
import { waitFor } from '../helpers/wait.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { FilesClient } from '../../src/api/client.js';
import { Daemon } from '../../src/daemon.js';
import { FolderSync, type FolderSyncOptions } from '../../src/sync/folder.js';
import { Manifest, openManifest, type ManifestReader } from '../../src/state/manifest.js';
import { acquireLock } from '../../src/state/lock.js';
import { listDir, WatchLimitError, type FolderWatcher, type WatchOptions } from '../../src/local/watch.js';
import type { OpOutcome } from '../../src/sync/execute.js';
import { captureLogger, waitForSync } from './daemon-harness.js';

let project: Project | undefined;
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await project?.cleanup();
  project = undefined;
});

async function configOf(p: Project): Promise<Config> {
  return (await loadConfig({ configPath: p.configPath, env: p.env })).config;
}

function clientFor(p: Project, logger: Logger): FilesClient {
  const client = new FilesClient({ apiKey: TEST_KEY, baseUrl: p.emulator.url, logger });
  cleanups.push(() => client.close());
  return client;
}

/**
 * A FolderSync on the project's first folder, holding its state lock, with a watcher that reports
 * only what the test makes it report through `watcher()`, the options the folder gave it.
 */
async function folderWithFakeWatcher(
  p: Project,
  logger: Logger,
  options: Partial<FolderSyncOptions> = {},
): Promise<{ folder: FolderSync; watcher: () => WatchOptions }> {
  const config = await configOf(p);
  const lock = await acquireLock(config.stateDir);
  cleanups.push(() => lock.release());
  let given: WatchOptions | undefined;
  const fakeWatcher = (_backend: string, opts: WatchOptions): FolderWatcher => {
    given = opts;
    return { ready: async () => undefined, close: async () => undefined, watchedCount: () => 1 };
  };
  const folder = new FolderSync({
    config,
    folder: config.folders[0]!,
    client: clientFor(p, logger),
    logger,
    createWatcher: fakeWatcher,
    ...options,
  });
  cleanups.push(() => folder.stop());
  return { folder, watcher: () => given! };
}

/**
 * folderWithFakeWatcher, started and synced, recording the outcomes of what it does from then on
 * (the first sync's are dropped).
 */
async function startedFolder(
  p: Project,
  logger: Logger,
  options: Partial<FolderSyncOptions> = {},
): Promise<{
  folder: FolderSync;
  watcher: () => WatchOptions;
  manifest: ManifestReader;
  outcomes: OpOutcome[];
}> {
  const outcomes: OpOutcome[] = [];
  const { folder, watcher } = await folderWithFakeWatcher(p, logger, {
    ...options,
    onOutcome: (_folder, outcome) => outcomes.push(outcome),
  });
  await folder.start();
  await folder.idle();
  outcomes.length = 0;
  return { folder, watcher, manifest: folder.lookupView()!.manifest, outcomes };
}

/**
 * reports/q3.csv renamed into a new archive/ while keep.txt is edited, and what parcel delivers
 * when the rename beats its watch on the new directory: the directory and the unlink dated by the
 * batch (held 50 ms), the edit by its ctime (fresher), no event for the renamed file (the
 * listing finds it).
 */
async function renameIntoNewDirectory(p: Project, watcher: () => WatchOptions): Promise<void> {
  await fs.mkdir(path.join(p.folder, 'archive'));
  await fs.rename(path.join(p.folder, 'reports/q3.csv'), path.join(p.folder, 'archive/q3.csv'));
  await fs.appendFile(path.join(p.folder, 'keep.txt'), 'more\n');
  watcher().onEvents([
    { type: 'dir', path: 'archive', quietMs: 50 },
    { type: 'unlink', path: 'reports/q3.csv', quietMs: 50 },
    { type: 'change', path: 'keep.txt', quietMs: 5 },
  ]);
}

/**
 * Holds the next read of the folder's state: one shard of it becomes a FIFO, so its reader waits
 * until `release()` writes the shard into it (the shard is a regular file again after). Released
 * in the cleanup too, so a failing test does not leave a start hanging.
 */
async function holdStateRead(p: Project): Promise<{ release: () => Promise<void> }> {
  const head = JSON.parse(await fs.readFile(path.join(p.stateDir, 'docs.manifest.json'), 'utf8')) as {
    shards: Array<string | null>;
  };
  const shard = path.join(
    p.stateDir,
    'docs.manifest.d',
    head.shards.find((s) => s !== null)!,
  );
  const text = await fs.readFile(shard);
  await fs.unlink(shard);
  execFileSync('mkfifo', ['-m', '600', shard]);
  let released: Promise<void> | undefined;
  const release = (): Promise<void> =>
    (released ??= (async () => {
      // Not blocking: with no reader yet (ENXIO), the regular file below is what it will read.
      const fifo = await fs.open(shard, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK).catch(() => undefined);
      await fifo?.writeFile(text);
      await fifo?.close();
      // Written beside the state, not in it: the state's open sweeps unnamed `entries-*` files.
      const copy = path.join(path.dirname(p.stateDir), 'held-shard.json');
      await fs.writeFile(copy, text, { mode: 0o600 });
      await fs.rename(copy, shard);
    })());
  cleanups.push(release);
  return { release };
}

/**
 * A synced project whose FolderSync is starting with its state's read held (holdStateRead), once
 * its walk ahead is done (or failed): the test changes the folder, then lets the run start
 * (`startRun`). `watchers` holds what each watcher set up was given; `onReady` runs as the first
 * becomes ready.
 */
async function walkingAhead(
  files: Record<string, string>,
  options: { onReady?: (p: Project) => Promise<void>; until?: 'walk ahead done' | 'walk ahead failed' } = {},
): Promise<{
  p: Project;
  folder: FolderSync;
  watchers: WatchOptions[];
  startRun: () => Promise<void>;
}> {
  const p = (project = await makeProject({ files }));
  expect((await runCli(['sync', '-c', p.configPath], { env: p.env })).code).toBe(0);
  const { logger, lines } = captureLogger();
  const watchers: WatchOptions[] = [];
  const { folder } = await folderWithFakeWatcher(p, logger, {
    createWatcher: (_backend, opts) => {
      const first = watchers.push(opts) === 1;
      return {
        ready: async () => void (first ? await options.onReady?.(p) : undefined),
        close: async () => undefined,
        watchedCount: () => 1,
      };
    },
  });
  const stateRead = await holdStateRead(p);
  const started = folder.start();
  const until = options.until ?? 'walk ahead done';
  await waitFor(() => lines.some((l) => l.msg === until), { message: until });
  expect(folder.lookupView()).toBeUndefined();
  return {
    p,
    folder,
    watchers,
    startRun: async () => {
      await stateRead.release();
      await started;
    },
  };
}

describe('daemon in-process', () => {
  it('syncs a burst of 1000 new files with the manifest written in batches', async () => {
    const p = (project = await makeProject({ config: { api: { concurrency: 8 } } }));
    const { logger } = captureLogger();
    const config = await configOf(p);
    const daemon = new Daemon({
      config,
      configPath: p.configPath,
      client: new FilesClient({ apiKey: TEST_KEY, baseUrl: p.emulator.url, logger }),
      logger,
      httpListen: null,
    });
    cleanups.push(() => daemon.stop());
    await daemon.start();
    await daemon.idle();
    const folder = daemon.folders.get('docs')!;
    const writesBefore = folder.manifestWrites;

    for (let i = 0; i < 1000; i++) await p.write(`burst/dir-${i % 25}/f${i}.txt`, `file ${i}\n`);
    await waitForSync(p, { timeoutMs: 40_000, what: 'the burst' });
    expect(p.emulator.files()).toHaveLength(1000);
    expect(folder.status().filesTracked).toBe(1000);
    const writes = folder.manifestWrites - writesBefore;
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThan(100);
  });

  it('a rename into a new directory stays a move when listing the directory is slower than the debounce', async () => {
    const p = (project = await makeProject({
      files: { 'reports/q3.csv': 'quarter,total\n3,42\n', 'keep.txt': 'keep\n' },
      config: { watch: { debounceMs: 100 } },
    }));
    const { logger, lines } = captureLogger();
    // A busy thread pool: the listing of the new directory finishes only when the test says so.
    let releaseListing: (() => void) | undefined;
    const listingHeld = new Promise<void>((resolve) => (releaseListing = resolve));
    const { watcher, manifest, outcomes, folder } = await startedFolder(p, logger, {
      listNewDirectory: async (...args) => {
        await listingHeld;
        return listDir(...args);
      },
    });
    const id = manifest.get('reports/q3.csv')!.fileId;

    await renameIntoNewDirectory(p, watcher);
    // The unlink falls due while the listing is held: it is either sent alone or waits.
    await waitFor(
      () =>
        outcomes.length > 0 || lines.some((l) => l.msg === 'batch waits for new directories to be listed'),
      { message: 'the unlink due while the listing is held' },
    );
    releaseListing!();
    await waitFor(() => outcomes.length > 0 && folder.status().queueDepth === 0, {
      message: 'the rename synced',
    });
    await folder.idle();

    expect(outcomes.map((o) => [o.op.kind, o.status]).sort()).toEqual([
      ['move', 'done'],
      ['replace', 'done'],
    ]);
    expect(manifest.get('archive/q3.csv')?.fileId).toBe(id);
    expect(manifest.get('reports/q3.csv')).toBeUndefined();
    // One DELETE: keep.txt's old version (no retention here); none for the moved file.
    expect(p.emulator.stats().byRoute['DELETE /v1/files/{id}'] ?? 0).toBe(1);
    expect(p.emulator.files().map((f) => f.id)).toContain(id);
    expect(p.emulator.files()).toHaveLength(2);
  });

  it('a rename into a new directory stays a move with no retention, when a fresher change comes in the same batch', async () => {
    const p = (project = await makeProject({
      files: { 'reports/q3.csv': 'quarter,total\n3,42\n', 'keep.txt': 'keep\n' },
      config: { watch: { debounceMs: 200 }, retention: { supersededMs: 0, removedMs: 0 } },
    }));
    const { logger } = captureLogger();
    const { folder, watcher, manifest, outcomes } = await startedFolder(p, logger);
    const id = manifest.get('reports/q3.csv')!.fileId;

    await renameIntoNewDirectory(p, watcher);
    await waitFor(() => outcomes.length >= 2 && folder.status().queueDepth === 0, {
      message: 'the batch synced',
    });
    await folder.idle();

    expect(outcomes.map((o) => [o.op.kind, o.status]).sort()).toEqual([
      ['move', 'done'],
      ['replace', 'done'],
    ]);
    expect(manifest.get('archive/q3.csv')?.fileId).toBe(id);
    expect(p.emulator.files().map((f) => f.id)).toContain(id);
  });

  it('a rename whose unlink synced alone takes its ID back from the delete queue: no upload, no delete', async () => {
    const p = (project = await makeProject({
      files: { 'reports/q3.csv': 'quarter,total\n3,42\n', 'notes.txt': 'notes\n', 'keep.txt': 'keep\n' },
      // The default retention: a removed file's ID stays valid (and queued) for a minute.
      config: { watch: { debounceMs: 100 }, retention: { supersededMs: 600_000, removedMs: 60_000 } },
    }));
    const { logger } = captureLogger();
    const { folder, watcher, manifest, outcomes } = await startedFolder(p, logger);
    const q3 = manifest.get('reports/q3.csv')!.fileId;
    const notes = manifest.get('notes.txt')!.fileId;
    const uploadsBefore = p.emulator.stats().uploadsCreated;
    const synced = async (n: number, what: string): Promise<void> => {
      await waitFor(() => outcomes.length >= n && folder.status().queueDepth === 0, { message: what });
      await folder.idle();
    };

    // The halves of a rename in different batches: the unlink alone first (the file is gone),
    // then, in a later batch, the new path.
    await fs.mkdir(path.join(p.folder, 'archive'));
    await fs.rename(path.join(p.folder, 'reports/q3.csv'), path.join(p.folder, 'archive/q3.csv'));
    watcher().onEvents([{ type: 'unlink', path: 'reports/q3.csv', quietMs: 0 }]);
    await synced(1, 'the unlink');
    expect(manifest.pendingDelete(q3)?.path).toBe('reports/q3.csv');
    watcher().onEvents([{ type: 'change', path: 'archive/q3.csv', quietMs: 0 }]);
    await synced(2, 'the new path');

    // A file deleted and then written again with the same content (a checkout, a restore from
    // the trash) takes its own ID back too.
    const text = await fs.readFile(path.join(p.folder, 'notes.txt'));
    await fs.rm(path.join(p.folder, 'notes.txt'));
    watcher().onEvents([{ type: 'unlink', path: 'notes.txt', quietMs: 0 }]);
    await synced(3, 'the removal');
    await fs.writeFile(path.join(p.folder, 'notes.txt'), text);
    watcher().onEvents([{ type: 'change', path: 'notes.txt', quietMs: 0 }]);
    await synced(4, 'the same file again');

    expect(outcomes.map((o) => [o.op.kind, o.status, o.fileId])).toEqual([
      ['delete', 'done', q3],
      ['move', 'done', q3],
      ['delete', 'done', notes],
      ['move', 'done', notes],
    ]);
    expect(manifest.get('archive/q3.csv')?.fileId).toBe(q3);
    expect(manifest.get('notes.txt')?.fileId).toBe(notes);
    expect(manifest.pendingDeletes()).toEqual([]);
    expect(p.emulator.stats().uploadsCreated).toBe(uploadsBefore);
    expect(p.emulator.stats().byRoute['DELETE /v1/files/{id}'] ?? 0).toBe(0);
    // What a reader opening the state sees once it is on disk: the IDs back, nothing queued.
    await folder.stop();
    const reopened = await openManifest(p.stateDir, 'docs');
    expect([reopened.get('archive/q3.csv')?.fileId, reopened.get('notes.txt')?.fileId]).toEqual([q3, notes]);
    expect(reopened.pendingDeletes()).toEqual([]);
  });

  it('removals taken back by moves no longer count for the delete guard', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 10; i++) files[`dir/d${i}.txt`] = `moved ${i}\n`;
    for (let i = 0; i < 30; i++) files[`o${i}.txt`] = `other ${i}\n`;
    const p = (project = await makeProject({
      files,
      config: {
        watch: { debounceMs: 100 },
        retention: { supersededMs: 600_000, removedMs: 60_000 },
        safety: { maxDeletes: 500, maxDeletePercent: 25 },
      },
    }));
    const { logger } = captureLogger();
    const { folder, watcher, manifest, outcomes } = await startedFolder(p, logger);

    // A directory renamed whose halves come apart: its 10 files are removed first (25% of 40, at
    // the limit), then found under the new name, in a batch with one file really deleted.
    await fs.rename(path.join(p.folder, 'dir'), path.join(p.folder, 'renamed'));
    watcher().onEvents([{ type: 'unlink-dir', path: 'dir', quietMs: 0 }]);
    await waitFor(() => outcomes.length >= 10 && folder.status().queueDepth === 0, {
      message: 'the removals',
    });
    await folder.idle();
    await fs.rm(path.join(p.folder, 'o0.txt'));
    watcher().onEvents([
      ...Array.from({ length: 10 }, (_, i) => ({
        type: 'change' as const,
        path: `renamed/d${i}.txt`,
        quietMs: 0,
      })),
      { type: 'unlink', path: 'o0.txt', quietMs: 0 },
    ]);
    // The moves and the delete come from one pass: once the moves are out, idle() has it all.
    await waitFor(() => outcomes.length >= 20 && folder.status().queueDepth === 0, {
      message: 'the second batch',
    });
    await folder.idle();

    const kinds = outcomes.slice(10).map((o) => o.op.kind);
    expect(kinds.filter((k) => k === 'move')).toHaveLength(10);
    expect(kinds.filter((k) => k === 'delete')).toHaveLength(1);
    expect(folder.status().heldDeletes).toBe(0);
    expect(manifest.pendingDeletes().map((d) => d.path)).toEqual(['o0.txt']);
  });

  it('a listing that never ends holds the batch no longer than the debouncer cap (10 s), then the rest syncs', async () => {
    const p = (project = await makeProject({
      files: { 'gone.txt': 'to be removed\n', 'edit.txt': 'v1\n' },
      config: { watch: { debounceMs: 100 } },
    }));
    const { logger, lines } = captureLogger();
    // A readdir hung on a dead mount.
    const { folder, watcher } = await folderWithFakeWatcher(p, logger, {
      listNewDirectory: () => new Promise<string[]>(() => undefined),
    });
    await folder.start();
    await folder.idle();
    const manifest = folder.lookupView()!.manifest;
    const before = manifest.get('edit.txt')!.fileId;

    await fs.mkdir(path.join(p.folder, 'stuck'));
    await fs.rm(path.join(p.folder, 'gone.txt'));
    await fs.writeFile(path.join(p.folder, 'edit.txt'), 'v2\n');
    const heldAt = Date.now();
    watcher().onEvents([
      { type: 'dir', path: 'stuck', quietMs: 0 },
      { type: 'unlink', path: 'gone.txt', quietMs: 0 },
      { type: 'change', path: 'edit.txt', quietMs: 0 },
    ]);
    await waitFor(
      () => manifest.get('gone.txt') === undefined && manifest.get('edit.txt')?.fileId !== before,
      {
        timeoutMs: 30_000,
        message: 'the batch synced without the listing',
      },
    );
    expect(Date.now() - heldAt).toBeGreaterThanOrEqual(10_000);
    const gaveUp = () =>
      lines.filter(
        (l) => l.msg === 'new directories still being listed; the batch goes on without what they find',
      );
    expect(gaveUp()).toHaveLength(1);

    // The hung listing is not waited for again.
    const v2 = manifest.get('edit.txt')!.fileId;
    await fs.writeFile(path.join(p.folder, 'edit.txt'), 'v3\n');
    watcher().onEvents([{ type: 'change', path: 'edit.txt', quietMs: 0 }]);
    await waitFor(() => manifest.get('edit.txt')?.fileId !== v2, { message: 'the next edit synced' });
    expect(gaveUp()).toHaveLength(1);
  });

  it('stopping ends a batch that waits for a listing, without waiting out the drain', async () => {
    // A cap of 20 s (10 x debounce), longer than stop's 10 s drain: only ending the wait on stop
    // keeps the drain warning away.
    const p = (project = await makeProject({
      files: { 'gone.txt': 'to be removed\n' },
      config: { watch: { debounceMs: 2_000 } },
    }));
    const { logger, lines } = captureLogger();
    const { folder, watcher } = await folderWithFakeWatcher(p, logger, {
      listNewDirectory: () => new Promise<string[]>(() => undefined),
    });
    await folder.start();
    await folder.idle();
    await fs.mkdir(path.join(p.folder, 'stuck'));
    await fs.rm(path.join(p.folder, 'gone.txt'));
    watcher().onEvents([
      { type: 'dir', path: 'stuck', quietMs: 0 },
      { type: 'unlink', path: 'gone.txt', quietMs: 0 },
    ]);
    await waitFor(() => lines.some((l) => l.msg === 'batch waits for new directories to be listed'), {
      message: 'the batch waiting for the listing',
    });
    await folder.stop();
    expect(lines.filter((l) => Number(l.level) >= 40).map((l) => l.msg)).toEqual([]);
    expect(folder.status().mode).toBe('stopped');
  });

  it('falls back to periodic reconciliation when the watcher hits the inotify limit', async () => {
    const p = (project = await makeProject({ files: { 'before.txt': 'before\n' } }));
    const { logger, lines } = captureLogger();
    const { folder, watcher } = await folderWithFakeWatcher(p, logger, { fallbackReconcileMs: 300 });
    await folder.start();
    await folder.idle();
    expect(folder.status().mode).toBe('watching');

    watcher().onError(
      new WatchLimitError('inotify watch limit reached; raise fs.inotify.max_user_watches', {
        root: p.folder,
        code: 'ENOSPC',
      }),
    );
    expect(folder.status().mode).toBe('reconcile-only');
    expect(folder.status().lastError?.message).toContain('fs.inotify.max_user_watches');
    expect(
      lines.some((l) => l.level === 50 && String(l.msg).includes('falls back to periodic reconciliation')),
    ).toBe(true);

    // No watcher any more: only the fallback timer can notice this file.
    await folder.idle();
    await p.write('after.txt', 'after the watcher died\n');
    await waitForSync(p, { what: 'a file created after the watcher failed' });
    await waitFor(
      () => lines.some((l) => l.reason === 'timer (watcher failed)' && l.msg === 'reconciliation done'),
      {
        message: 'a reconciliation by the fallback timer',
      },
    );
  });

  it('the start-up reconciliation scans once the watcher is ready: a file written while it gets ready is not missed', async () => {
    const p = (project = await makeProject({ files: { 'before.txt': 'before\n' } }));
    const { logger } = captureLogger();
    let release!: () => void;
    const watcherReady = new Promise<void>((resolve) => (release = resolve));
    let settingUp = false;
    const { folder } = await folderWithFakeWatcher(p, logger, {
      // A watcher that reports nothing: only a scan can find a file.
      createWatcher: () => {
        settingUp = true;
        return { ready: () => watcherReady, close: async () => undefined, watchedCount: () => 1 };
      },
    });
    const started = folder.start();
    await waitFor(() => settingUp && folder.lookupView() !== undefined, {
      message: 'the watcher being set up and the state open',
    });
    // A reconciliation queued before the watcher was ready would have scanned by now.
    await folder.idle();
    // Too late for any scan before the watcher, and no event will come for it.
    await p.write('while-watcher-starts.txt', 'written before the watcher covered it\n');
    release();
    await started;
    await folder.idle();
    expect(remoteNames(p)).toEqual(['before.txt', 'while-watcher-starts.txt']);
  });

  it('the first start sets up its watcher while the state is read, and drops what it hears before the run starts', async () => {
    const p = (project = await makeProject({ files: { 'before.txt': 'before\n' } }));
    const { logger } = captureLogger();
    let stateOpenAtSetUp: boolean | undefined;
    let given: WatchOptions | undefined;
    const stateOpen = { now: (): boolean => false };
    const { folder } = await folderWithFakeWatcher(p, logger, {
      createWatcher: (_backend, opts) => {
        stateOpenAtSetUp = stateOpen.now();
        given = opts;
        // Heard before the run started: dropped (the start-up scan reads the folder after this).
        opts.onEvents([{ type: 'change', path: 'before.txt' }]);
        return { ready: async () => undefined, close: async () => undefined, watchedCount: () => 1 };
      },
    });
    stateOpen.now = () => folder.lookupView() !== undefined;
    await folder.start();
    await folder.idle();
    expect(stateOpenAtSetUp).toBe(false);
    expect(folder.status().mode).toBe('watching');
    expect(p.emulator.files().map((f) => f.filename)).toEqual(['before.txt']);
    // Once the run started, it hears as usual.
    await p.write('after.txt', 'after\n');
    given!.onEvents([{ type: 'change', path: 'after.txt' }]);
    await waitForSync(p, { what: 'a file the watcher reported' });
    expect(p.emulator.stats().uploadsCreated).toBe(2);
  });

  for (const how of [
    'its set-up throws',
    'its ready() fails',
    'it reports an error before the run starts',
  ] as const) {
    it(`a watcher set up ahead is set up again when ${how}; the second reports nothing wrong`, async () => {
      const p = (project = await makeProject({ files: { 'before.txt': 'before\n' } }));
      const { logger, lines } = captureLogger();
      let setUps = 0;
      const { folder } = await folderWithFakeWatcher(p, logger, {
        createWatcher: (_backend, opts) => {
          const first = ++setUps === 1;
          if (first && how === 'its set-up throws') throw new Error('no watcher here');
          return {
            ready: async () => {
              if (!first) return;
              const err = new WatchLimitError('inotify watch limit reached', {
                root: p.folder,
                code: 'ENOSPC',
              });
              if (how === 'its ready() fails') throw err;
              opts.onError(err);
            },
            close: async () => undefined,
            watchedCount: () => 1,
          };
        },
      });
      await folder.start();
      await folder.idle();
      expect(setUps).toBe(2);
      expect(folder.status().mode).toBe('watching');
      expect(folder.status().lastError).toBeUndefined();
      expect(lines.filter((l) => (l.level as number) >= 40)).toEqual([]);
      expect(p.emulator.files().map((f) => f.filename)).toEqual(['before.txt']);
    });
  }

  it('a start whose state is slow to read walks the folder once its watcher is ready, and hears what changes meanwhile', async () => {
    const { p, folder, watchers, startRun } = await walkingAhead({
      'before.txt': 'before\n',
      'edited.txt': 'v1\n',
    });
    // After the walk read the folder and before the run starts: only the watcher knows of these.
    await p.write('edited.txt', 'v2, written while the state was read\n');
    await p.write('new.txt', 'new\n');
    watchers[0]!.onEvents([
      { type: 'change', path: 'edited.txt' },
      { type: 'change', path: 'new.txt' },
    ]);
    // Neither walked nor heard: only a walk made after the run started would find it.
    await p.write('unannounced.txt', 'no event, written after the walk ahead\n');
    await startRun();
    await waitFor(() => remoteNames(p).length === 3, {
      message: 'the changes heard while the state was read',
    });
    await folder.idle();
    expect(remoteNames(p)).toEqual(['before.txt', 'edited.txt', 'new.txt']);
    const edited = createHash('sha256').update('v2, written while the state was read\n').digest('hex');
    expect(p.emulator.files().find((f) => f.filename === 'edited.txt')?.sha256).toBe(edited);
    expect(p.emulator.stats().uploadsCreated).toBe(4);
  });

  it('a walk ahead that fails (the root gone for a moment) is made again by the start-up reconciliation', async () => {
    const away = `${randomUUID()}.away`;
    const { p, folder, startRun } = await walkingAhead(
      { 'before.txt': 'before\n' },
      {
        onReady: async (p) => {
          await p.write('offline.txt', 'written while no daemon ran\n');
          await fs.rename(p.folder, path.join(path.dirname(p.folder), away));
        },
        until: 'walk ahead failed',
      },
    );
    await fs.rename(path.join(path.dirname(p.folder), away), p.folder);
    await startRun();
    await waitForSync(p, { what: 'a file only the start-up reconciliation finds', timeoutMs: 10_000 });
    expect(folder.status().mode).toBe('watching');
  });

  it('a start that hears more than it keeps while walking ahead walks again once the run starts', async () => {
    const { p, watchers, startRun } = await walkingAhead({ 'before.txt': 'before\n' });
    // No event names this file: the walk ahead is dropped, and only a later walk finds it.
    await p.write('unheard.txt', 'written while a flood of events came in\n');
    const flood = Array.from({ length: 50_001 }, () => ({ type: 'change' as const, path: 'before.txt' }));
    watchers[0]!.onEvents(flood);
    await startRun();
    await waitForSync(p, { what: 'a file only a walk after the start finds', timeoutMs: 10_000 });
    expect(remoteNames(p)).toEqual(['before.txt', 'unheard.txt']);
  });

  it('a watcher set up ahead that fails while the folder is walked ahead leaves the walk to the reconciliation', async () => {
    const { p, folder, watchers, startRun } = await walkingAhead({ 'before.txt': 'before\n' });
    watchers[0]!.onError(
      new WatchLimitError('inotify watch limit reached', { root: p.folder, code: 'ENOSPC' }),
    );
    // Missed by the walk ahead and by the failed watcher: only a walk after the next watcher finds it.
    await p.write('unheard.txt', 'written after the first watcher failed\n');
    await startRun();
    await waitForSync(p, { what: 'a file only a walk after the start finds', timeoutMs: 10_000 });
    expect(watchers).toHaveLength(2);
    expect(folder.status().mode).toBe('watching');
  });

  it('a state that cannot be opened fails the start at once and closes the watcher set up ahead, ready or not', async () => {
    const p = (project = await makeProject({ files: { 'before.txt': 'before\n' } }));
    await fs.mkdir(p.stateDir, { recursive: true, mode: 0o700 });
    await fs.writeFile(path.join(p.stateDir, 'docs.manifest.json'), '{"version": 3, "torn', { mode: 0o600 });
    const { logger } = captureLogger();
    let closed = 0;
    const { folder } = await folderWithFakeWatcher(p, logger, {
      createWatcher: () => ({
        ready: () => new Promise<void>(() => undefined),
        close: async () => void closed++,
        watchedCount: () => 1,
      }),
    });
    await expect(folder.start()).rejects.toThrow();
    expect(closed).toBe(1);
  });

  it('a watched path with an unresolved upload intent triggers a reconciliation that adopts the upload', async () => {
    const content = 'uploaded just before a crash\n';
    const sha256 = createHash('sha256').update(content).digest('hex');
    const p = (project = await makeProject({ config: { reconcile: { intervalMs: 0, onStart: false } } }));
    const config = await configOf(p);
    // A crash between the upload and the manifest write: an intent on disk, the file on the API.
    const m = await Manifest.open(config.stateDir, { name: 'docs', root: p.folder });
    await m.addPendingUpload(
      {
        path: 'x.txt',
        sha256,
        size: content.length,
        remoteName: 'x.txt',
        startedAt: new Date(Date.now() - 1000).toISOString(),
      },
      { durable: true },
    );
    await m.close();
    const seeded = p.emulator.addFile({ filename: 'x.txt', sizeBytes: content.length, sha256 });

    const { logger, lines } = captureLogger();
    const daemon = new Daemon({
      config,
      configPath: p.configPath,
      client: new FilesClient({ apiKey: TEST_KEY, baseUrl: p.emulator.url, logger }),
      logger,
      httpListen: null,
    });
    cleanups.push(() => daemon.stop());
    await daemon.start();
    await p.write('x.txt', content);

    await waitFor(async () => (await openManifest(p.stateDir, 'docs')).get('x.txt')?.fileId === seeded.id, {
      timeoutMs: 20_000,
      message: 'x.txt adopted',
    });
    // The manifest is written before the pass logs its end: wait for the line, do not race it.
    await waitFor(() => lines.some((l) => l.reason === 'pending intent' && l.msg === 'reconciliation done'), {
      message: 'a reconciliation caused by the pending intent',
    });
    await waitForSync(p);
    expect(p.emulator.stats().uploadsCreated).toBe(0);
  });
});
