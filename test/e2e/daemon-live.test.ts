/**
 * The daemon as users run it (`files-sync run` in a child process) keeps the emulator equal to
 * the folder (plus the removed files' IDs it still retains) through every kind of local change,
 * and `ls` agrees.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeProject, runCli } from '../helpers/project.js';
import { startDaemon, waitForSync, type DaemonProcess } from './daemon-harness.js';
import { openManifest } from '../../src/state/manifest.js';

let daemon: DaemonProcess | undefined;

describe('files-sync run keeps remote == local', () => {
  it('through creates, edits, editor saves, renames and deletes of files and directories', async () => {
    const p = await makeProject({
      files: { 'a.txt': 'alpha\n', 'docs/b.md': '# bee\n', 'docs/deep/c.csv': '1,2,3\n' },
      // Removed files' IDs kept for the default minute: the unlink of a rename may sync in a batch
      // of its own (a busy machine), and the new path then takes the ID back from the queue.
      config: { retention: { supersededMs: 0, removedMs: 60_000 } },
    });
    daemon = await startDaemon(p);
    const synced = (what: string) => waitForSync(p, { retainsRemoved: true, what });
    await synced('startup reconciliation');
    const abs = (rel: string) => path.join(p.folder, rel);

    // Create a file, and a directory with files written right after it (chokidar misses those).
    await p.write('new.txt', 'brand new\n');
    await fs.mkdir(abs('fresh/sub'), { recursive: true });
    await fs.writeFile(abs('fresh/sub/one.txt'), 'one\n');
    await fs.writeFile(abs('fresh/two.txt'), 'two\n');
    await synced('new files and a new directory');

    // `mkdir -p` makes nested directories at once; files written into them later must still be seen
    // (@parcel/watcher alone never watches the inner ones).
    await fs.mkdir(abs('nest/a/b/c'), { recursive: true });
    await p.write('marker.txt', 'lets the watcher see the new tree first\n');
    await synced('a marker after mkdir -p');
    await fs.writeFile(abs('nest/a/b/c/late.txt'), 'written into a nested new directory later\n');
    await fs.writeFile(abs('nest/a/late.txt'), 'and one level up\n');
    await synced('files in directories made by mkdir -p');

    // Edit in place; the old remote version must go (no orphans).
    const before = (await openManifest(p.stateDir, 'docs')).get('a.txt')!.fileId;
    await fs.appendFile(abs('a.txt'), 'more alpha\n');
    await synced('an in-place edit');
    expect((await openManifest(p.stateDir, 'docs')).get('a.txt')!.fileId).not.toBe(before);

    // Editor-style save: write a swap/temp file, then rename it over the original.
    await fs.writeFile(abs('docs/.b.md.swp'), 'swap junk');
    await fs.writeFile(abs('docs/b.md.tmp123'), '# bee, edited by an editor\n');
    await fs.rename(abs('docs/b.md.tmp123'), abs('docs/b.md'));
    await fs.rm(abs('docs/.b.md.swp'));
    await synced('save-by-rename');

    // Rename a file (same basename in another directory: a move, no upload) and one with a new name.
    const uploadsBefore = p.emulator.stats().uploadsCreated;
    const movedId = (await openManifest(p.stateDir, 'docs')).get('new.txt')!.fileId;
    await fs.mkdir(abs('archive'), { recursive: true });
    await fs.rename(abs('new.txt'), abs('archive/new.txt'));
    await fs.rename(abs('docs/deep/c.csv'), abs('docs/deep/renamed.csv'));
    await synced('renames');
    const m = await openManifest(p.stateDir, 'docs');
    expect(m.get('archive/new.txt')?.fileId).toBe(movedId);
    // The basename change needs one upload (the API keeps the filename); the move needs none.
    expect(p.emulator.stats().uploadsCreated - uploadsBefore).toBe(1);

    // Rename a whole directory (its files are moves: same IDs, no upload), then delete a file and
    // a whole directory.
    const freshIds = await openManifest(p.stateDir, 'docs');
    const idsBefore = [freshIds.get('fresh/two.txt')?.fileId, freshIds.get('fresh/sub/one.txt')?.fileId];
    const uploadsBeforeDirRename = p.emulator.stats().uploadsCreated;
    await fs.rename(abs('fresh'), abs('renamed-dir'));
    await synced('a renamed directory');
    const renamed = await openManifest(p.stateDir, 'docs');
    expect([
      renamed.get('renamed-dir/two.txt')?.fileId,
      renamed.get('renamed-dir/sub/one.txt')?.fileId,
    ]).toEqual(idsBefore);
    expect(p.emulator.stats().uploadsCreated).toBe(uploadsBeforeDirRename);
    await fs.rm(abs('a.txt'));
    await fs.rm(abs('docs'), { recursive: true });
    await synced('deleted file and directory');

    // `ls` shows exactly the local files with the IDs the emulator holds.
    const ls = await runCli(['ls', '--json', '-c', p.configPath], { env: p.env });
    expect(ls.code).toBe(0);
    const rows = JSON.parse(ls.stdout) as Array<{ path: string; fileId: string }>;
    expect(rows.map((r) => r.path).sort()).toEqual([
      'archive/new.txt',
      'marker.txt',
      'nest/a/b/c/late.txt',
      'nest/a/late.txt',
      'renamed-dir/sub/one.txt',
      'renamed-dir/two.txt',
    ]);
    // Besides them, only the removed files' IDs, queued for deletion after their retention.
    const live = new Set(p.emulator.files().map((f) => f.id));
    for (const r of rows) expect(live.has(r.fileId)).toBe(true);
    const queued = (await openManifest(p.stateDir, 'docs')).pendingDeletes();
    expect(queued.map((d) => d.path).sort()).toEqual([
      'a.txt',
      'docs/b.md',
      'docs/deep/c.csv',
      'docs/deep/renamed.csv',
    ]);
    for (const d of queued) expect(live.has(d.fileId)).toBe(true);
    expect(live.size).toBe(rows.length + queued.length);

    const exit = await daemon.stop('SIGTERM');
    expect(exit.code).toBe(0);
  });
});
