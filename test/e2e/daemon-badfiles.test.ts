/**
 * One bad file never stops the daemon: a FIFO (which would block a reader forever, even root), a
 * dangling symlink and a file the API refuses are reported, and everything else syncs.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeProject, remoteNames } from '../helpers/project.js';
import { startDaemon, waitForSync, type DaemonProcess } from './daemon-harness.js';

let daemon: DaemonProcess | undefined;

describe('bad files', () => {
  it('reports a FIFO and a file the API refuses, at startup and live, and syncs the rest', async () => {
    const p = await makeProject({
      files: { 'good.txt': 'good\n', 'too-big.bin': 'x'.repeat(5000) },
      // The emulator refuses uploads over 4 KB with 413, like the API over 500 MB.
      emulator: { maxUploadBytes: 4096 },
    });
    execFileSync('mkfifo', [path.join(p.folder, 'startup.fifo')]);
    await fs.symlink(path.join(p.dir, 'nowhere'), path.join(p.folder, 'dangling.txt'));
    const skip = ['too-big.bin', 'startup.fifo', 'dangling.txt', 'live.fifo', 'live-big.bin'];
    const folders = [{ root: p.folder, stateDir: p.stateDir, name: 'docs', exclude: skip }];

    daemon = await startDaemon(p);
    await waitForSync(p, { folders, what: 'the good files at startup' });
    const warned = (file: string) =>
      daemon!.logs().some((l) => l.path === file && (l.level === 'warn' || l.level === 'error'));
    await daemon.waitForLog(() => warned('startup.fifo'), 'the FIFO reported');
    await daemon.waitForLog(() => warned('too-big.bin'), 'the refused file reported');

    // The same while watching.
    execFileSync('mkfifo', [path.join(p.folder, 'live.fifo')]);
    await p.write('live-big.bin', 'y'.repeat(6000));
    await p.write('live-good.txt', 'still fine\n');
    await waitForSync(p, { folders, what: 'a good file next to bad ones' });
    await daemon.waitForLog(() => warned('live.fifo'), 'the live FIFO reported');
    await daemon.waitForLog(() => warned('live-big.bin'), 'the live refused file reported');

    expect(daemon.child.exitCode).toBeNull();
    expect(remoteNames(p)).toEqual(['good.txt', 'live-good.txt']);
    expect((await daemon.stop('SIGTERM')).code).toBe(0);
  });
});
