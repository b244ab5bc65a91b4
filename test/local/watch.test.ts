import { appendFile, lstat, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { cleanupAll, tempDir, watchFolder, type WatchedFolder } from './watch-harness.js';
import { parcelQuietMs, quietSinceChange } from '../../src/local/watch-parcel.js';

afterEach(cleanupAll);

/** Waits until the watcher reported `p` with this event type. */
function reported(
  w: WatchedFolder,
  type: 'change' | 'unlink' | 'dir' | 'unlink-dir',
  p: string,
): Promise<void> {
  return waitFor(() => w.paths(type).has(p), {
    message: () => `a '${type}' event for ${p}; seen: ${JSON.stringify(w.events)}`,
  });
}

describe.each(['chokidar', 'parcel'] as const)('%s watcher (real temp folders)', (backend) => {
  it('ready() resolves after the initial crawl and watchedCount covers existing paths', async () => {
    const root = await tempDir();
    await mkdir(path.join(root, 'sub'));
    await writeFile(path.join(root, 'a.txt'), 'a');
    await writeFile(path.join(root, 'sub', 'b.txt'), 'b');
    const w = watchFolder(root, { backend });
    await w.watcher.ready();
    // a.txt, sub and sub/b.txt at least (chokidar may also count the root in its parent); parcel keeps no count.
    if (backend === 'chokidar') expect(w.watcher.watchedCount()).toBeGreaterThanOrEqual(3);
    // ignoreInitial: existing files are the reconciliation's business, not events.
    expect(w.events).toEqual([]);
    expect(w.errors).toEqual([]);
  });

  it('reports creating, modifying and deleting a file', async () => {
    const root = await tempDir();
    // Modified and deleted files exist beforehand: chokidar drops a 'change' within 50 ms of the
    // previous one of the same path, which a create-then-modify sequence could run into.
    await writeFile(path.join(root, 'existing.md'), 'one');
    await writeFile(path.join(root, 'doomed.md'), 'x');
    const w = watchFolder(root, { backend });
    await w.watcher.ready();

    await writeFile(path.join(root, 'created.md'), 'new');
    await appendFile(path.join(root, 'existing.md'), ' two');
    await rm(path.join(root, 'doomed.md'));

    await reported(w, 'change', 'created.md');
    await reported(w, 'change', 'existing.md');
    await reported(w, 'unlink', 'doomed.md');
    expect(w.paths('unlink').has('existing.md')).toBe(false);
    expect(w.errors).toEqual([]);
  });

  it('finds files created right after their directory, through the dir event and listDir', async () => {
    const root = await tempDir();
    const w = watchFolder(root, { backend });
    await w.watcher.ready();

    const expected: string[] = [];
    await mkdir(path.join(root, 'new', 'deeper'), { recursive: true });
    for (let i = 0; i < 20; i++) {
      await writeFile(path.join(root, 'new', `f${i}.txt`), String(i));
      expected.push(`new/f${i}.txt`);
    }
    await writeFile(path.join(root, 'new', 'deeper', 'z.bin'), 'z');
    expected.push('new/deeper/z.bin');

    await reported(w, 'dir', 'new');
    await waitFor(() => expected.every((p) => w.found.has(p)), {
      message: () => `all of ${expected.length} files found; found: ${JSON.stringify([...w.found])}`,
    });
  });

  it('keeps watching nested directories made at once (mkdir -p), for files written into them later', async () => {
    const root = await tempDir();
    const w = watchFolder(root, { backend });
    await w.watcher.ready();

    // Several rounds: the race that loses nested watches does not strike every time.
    for (let round = 0; round < 4; round++) {
      await mkdir(path.join(root, `r${round}`, 'a', 'b', 'c'), { recursive: true });
      await reported(w, 'dir', `r${round}`);
    }
    // The extra watches are set up asynchronously after the directory event, so a file written in
    // that moment may go unheard: write until heard. Without nested watching, never heard: fails.
    for (let round = 0; round < 4; round++) {
      for (const rel of [`r${round}/a/b/c/late.txt`, `r${round}/a/b/late.txt`]) {
        let n = 0;
        await waitFor(
          async () => {
            await writeFile(path.join(root, rel), String(n++));
            return w.paths('change').has(rel);
          },
          { intervalMs: 200, message: () => `a change of ${rel}; seen: ${JSON.stringify(w.events)}` },
        );
      }
    }
  });

  it('reports both paths of a rename, in any order', async () => {
    const root = await tempDir();
    await writeFile(path.join(root, 'old name.txt'), 'content');
    const w = watchFolder(root, { backend });
    await w.watcher.ready();

    await rename(path.join(root, 'old name.txt'), path.join(root, 'new name.txt'));
    await reported(w, 'unlink', 'old name.txt');
    await reported(w, 'change', 'new name.txt');
  });

  it('reports an editor-style save (write a temp file, rename it over the target) as a change of the target', async () => {
    const root = await tempDir();
    await writeFile(path.join(root, 'doc.txt'), 'v1');
    const w = watchFolder(root, { backend });
    await w.watcher.ready();

    // gedit/GIO style: the temp name is in DEFAULT_EXCLUDES, so only the target is reported.
    const temp = path.join(root, '.goutputstream-ABC123');
    await writeFile(temp, 'v2');
    await rename(temp, path.join(root, 'doc.txt'));
    await reported(w, 'change', 'doc.txt');
    expect(w.events.some((e) => e.path.startsWith('.goutputstream'))).toBe(false);
  });

  it('reports deleting a whole directory as unlink-dir', async () => {
    const root = await tempDir();
    await mkdir(path.join(root, 'tree', 'branch'), { recursive: true });
    await writeFile(path.join(root, 'tree', 'a.txt'), 'a');
    await writeFile(path.join(root, 'tree', 'branch', 'b.txt'), 'b');
    await writeFile(path.join(root, 'keep.txt'), 'k');
    const w = watchFolder(root, { backend });
    await w.watcher.ready();

    await rm(path.join(root, 'tree'), { recursive: true });
    await reported(w, 'unlink-dir', 'tree');
    expect(w.paths('unlink').has('keep.txt')).toBe(false);
  });

  it('produces no events for excluded files and directories', async () => {
    const root = await tempDir();
    await mkdir(path.join(root, 'build'));
    const w = watchFolder(root, { backend, filter: { exclude: ['build/**', '**/*.log', 'cache'] } });
    await w.watcher.ready();

    await writeFile(path.join(root, 'build', 'out.js'), 'x');
    await writeFile(path.join(root, 'debug.log'), 'x');
    await mkdir(path.join(root, 'cache'));
    await writeFile(path.join(root, 'cache', 'blob'), 'x');
    await writeFile(path.join(root, '.notes.md.swp'), 'x'); // a default exclude
    await mkdir(path.join(root, 'src'));
    await writeFile(path.join(root, 'src', 'trace.log'), 'x');
    // Events are not ordered, but a later included write is a fair barrier for earlier ones.
    await writeFile(path.join(root, 'sentinel.txt'), 'x');
    await reported(w, 'change', 'sentinel.txt');
    await appendFile(path.join(root, 'sentinel.txt'), 'y');
    await waitFor(() => w.events.filter((e) => e.path === 'sentinel.txt').length >= 2, {
      message: () => `a second sentinel event; seen: ${JSON.stringify(w.events)}`,
    });

    const excluded = ['build', 'cache', 'debug.log', '.notes.md.swp', 'src/trace.log'];
    const leaked = w.events.filter((e) => excluded.some((x) => e.path === x || e.path.startsWith(x + '/')));
    expect(leaked).toEqual([]);
  });

  it('does not follow a symlink to a directory outside the folder (by default)', async () => {
    const root = await tempDir();
    const outside = await tempDir('files-sync-outside-');
    await writeFile(path.join(outside, 'secret.txt'), 'a');
    await symlink(outside, path.join(root, 'link'));
    const w = watchFolder(root, { backend });
    await w.watcher.ready();

    await writeFile(path.join(outside, 'secret.txt'), 'b');
    await writeFile(path.join(outside, 'new.txt'), 'c');
    await writeFile(path.join(root, 'sentinel.txt'), 'x');
    await reported(w, 'change', 'sentinel.txt');

    expect(w.events.filter((e) => e.path.startsWith('link/'))).toEqual([]);
  });

  it('follows a symlinked directory when followSymlinks is on', async () => {
    const root = await tempDir();
    const outside = await tempDir('files-sync-outside-');
    await symlink(outside, path.join(root, 'link'));
    const w = watchFolder(root, { backend, followSymlinks: true });
    await w.watcher.ready();

    await writeFile(path.join(outside, 'new.txt'), 'c');
    await reported(w, 'change', 'link/new.txt');
  });

  it('watches through a symlinked root and reports paths relative to it', async () => {
    const real = await tempDir();
    const parent = await tempDir();
    const root = path.join(parent, 'folder-link');
    await symlink(real, root);
    const w = watchFolder(root, { backend });
    await w.watcher.ready();

    await mkdir(path.join(root, 'd'));
    await writeFile(path.join(real, 'd', 'x.txt'), 'x');
    await waitFor(() => w.found.has('d/x.txt'), {
      message: () => `d/x.txt; seen: ${JSON.stringify(w.events)}`,
    });
  });

  it('delivers no events after close()', async () => {
    const root = await tempDir();
    const closed = watchFolder(root, { backend });
    const witness = watchFolder(root, { backend });
    await Promise.all([closed.watcher.ready(), witness.watcher.ready()]);

    await writeFile(path.join(root, 'before.txt'), 'x');
    await reported(closed, 'change', 'before.txt');
    await closed.watcher.close();
    const seenAtClose = closed.events.length;
    expect(closed.watcher.watchedCount()).toBe(0);

    await writeFile(path.join(root, 'after.txt'), 'x');
    await rm(path.join(root, 'before.txt'));
    await reported(witness, 'change', 'after.txt');
    await reported(witness, 'unlink', 'before.txt');
    expect(closed.events.length).toBe(seenAtClose);
    // close() is idempotent and ready() stays resolved.
    await closed.watcher.close();
    await closed.watcher.ready();
  });
});

describe('parcel: how long an event was held back', () => {
  it('counts parcel’s 50 ms only for a batch that follows another within its 500 ms window', () => {
    expect(parcelQuietMs(Infinity)).toBe(0);
    expect(parcelQuietMs(600)).toBe(0);
    // Near the window's end our clock may be late: assume nothing.
    expect(parcelQuietMs(450)).toBe(0);
    expect(parcelQuietMs(120)).toBe(50);
    expect(parcelQuietMs(0)).toBe(50);
  });

  it('dates a change by its ctime, within what parcel can have held', () => {
    // A batch 180 ms after the previous one: parcel held its events at most that long.
    expect(quietSinceChange(120, 180)).toBe(120);
    expect(quietSinceChange(400, 180)).toBe(280);
    // Under a steady stream parcel delivers when 500 ms have passed since its previous batch: an
    // event from just after that batch is ~500 ms old.
    expect(quietSinceChange(480, 520)).toBe(480);
    // After a longer gap parcel delivered at once: an old ctime (a clock behind ours) is not trusted.
    expect(quietSinceChange(5_000, 700)).toBe(100);
    expect(quietSinceChange(5_000, Infinity)).toBe(100);
    expect(quietSinceChange(30, Infinity)).toBe(30);
    // A ctime in our future: nothing is known to be quiet.
    expect(quietSinceChange(-40, 100)).toBe(0);
  });

  it('never counts a change as quieter than it is, and gives the inode', async () => {
    const root = await tempDir();
    const w = watchFolder(root, { backend: 'parcel' });
    await w.watcher.ready();
    const before = Date.now();
    await writeFile(path.join(root, 'a.txt'), 'a\n');
    await waitFor(() => w.events.some((e) => e.path === 'a.txt'), { message: 'a.txt reported' });
    const seenWithin = Date.now() - before;
    const { ino } = await lstat(path.join(root, 'a.txt'));
    const events = w.events.filter((e) => e.path === 'a.txt');
    expect(events.every((e) => e.quietMs !== undefined && e.quietMs <= seenWithin)).toBe(true);
    expect(events.every((e) => e.ino === ino)).toBe(true);
  });
});
