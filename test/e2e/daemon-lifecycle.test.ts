/**
 * Lifecycle of `files-sync run` as a process: SIGTERM drains and flushes, changes made while it
 * is down are repaired by the startup reconciliation, and a SIGKILL in the middle of a burst
 * leaves neither orphans nor duplicates once it runs again.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeProject } from '../helpers/project.js';
import { waitFor } from '../helpers/wait.js';
import { openManifest } from '../../src/state/manifest.js';
import { projectFolder, startDaemon, syncDiff, waitForSync, type DaemonProcess } from './daemon-harness.js';

let daemon: DaemonProcess | undefined;

describe('files-sync run lifecycle', () => {
  it('SIGTERM exits 0 with the manifest flushed; changes made while stopped are repaired at the next start', async () => {
    const p = await makeProject({
      files: {
        'keep.txt': 'keep\n',
        'edit.txt': 'v1\n',
        'gone.txt': 'bye\n',
        'move/me.txt': 'moving\n',
        'sub/x.txt': 'x\n',
      },
    });
    daemon = await startDaemon(p);
    await waitForSync(p, { what: 'first start' });

    // A change whose upload has reached the API but whose manifest write is still debounced:
    // only the flush at shutdown can record it.
    await p.write('late.txt', 'written just before the stop\n');
    await waitFor(() => p.emulator.files().some((f) => f.filename === 'late.txt'), {
      message: 'late.txt uploaded',
    });
    const exit = await daemon.stop('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(daemon.logs().some((l) => l.msg === 'files-sync daemon stopped')).toBe(true);
    expect(await syncDiff([projectFolder(p)], p.emulator)).toEqual([]);

    // Offline: edit, add, delete, rename, and a new directory.
    const editedId = (await openManifest(p.stateDir, 'docs')).get('edit.txt')!.fileId;
    await fs.writeFile(path.join(p.folder, 'edit.txt'), 'v2, edited while the daemon was down\n');
    await p.write('added.txt', 'added offline\n');
    await p.write('newdir/deeper/file.txt', 'in a new directory\n');
    await p.remove('gone.txt');
    await fs.mkdir(path.join(p.folder, 'moved'));
    await fs.rename(path.join(p.folder, 'move/me.txt'), path.join(p.folder, 'moved/me.txt'));
    expect((await syncDiff([projectFolder(p)], p.emulator)).length).toBeGreaterThan(0);

    daemon = await startDaemon(p);
    await waitForSync(p, { what: 'startup reconciliation after offline changes' });
    expect(p.emulator.files().some((f) => f.id === editedId)).toBe(false);
    expect((await daemon.stop('SIGTERM')).code).toBe(0);
  });

  it('SIGKILL in the middle of a burst: after a restart, everything is synced with no orphan and no duplicate', async () => {
    const p = await makeProject({
      // Slow responses and a few uploads whose response is lost keep many requests in flight.
      emulator: { faults: { latencyMs: 40, rateCreatedThenReset: 0.05, seed: 7 } },
      config: { api: { concurrency: 8, maxRetryTimeMs: 60_000 } },
    });
    daemon = await startDaemon(p);
    const total = 400;
    for (let i = 0; i < total; i++)
      await p.write(`burst/d${i % 10}/file-${i}.txt`, `content of file ${i}\n`.repeat(1 + (i % 7)));
    await waitFor(() => p.emulator.stats().uploadsCreated >= 40, {
      timeoutMs: 60_000,
      message: 'uploads under way',
    });
    expect(p.emulator.stats().uploadsCreated).toBeLessThan(total);
    // Hold the next uploads and kill while one is held: its intent is on disk (written before the
    // POST) whatever the daemon was doing a moment earlier (a loaded machine may have it idle
    // between two watcher batches, with everything so far recorded).
    const posted = p.emulator.stats().byRoute['POST /v1/files'] ?? 0;
    p.emulator.setFaults({ latencyMs: 3_000 });
    await waitFor(() => (p.emulator.stats().byRoute['POST /v1/files'] ?? 0) > posted, {
      timeoutMs: 60_000,
      message: 'an upload held by the emulator',
    });
    const killed = await daemon.stop('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    // The held requests end (their client is gone) before the restart, so none creates a file behind its back.
    p.emulator.setFaults({});
    await waitFor(() => p.emulator.stats().inFlight === 0, {
      timeoutMs: 30_000,
      message: 'held requests ended',
    });
    // The kill left work for recovery: intents on disk and/or remote files the manifest does not name yet.
    const afterKill = await syncDiff([projectFolder(p)], p.emulator);
    expect(afterKill.some((l) => l.includes('pending upload intent') || l.includes('orphan'))).toBe(true);

    daemon = await startDaemon(p);
    await waitForSync(p, { timeoutMs: 90_000, what: 'restart after SIGKILL' });
    expect(await localCount(p.folder)).toBe(total);
    expect(p.emulator.files()).toHaveLength(total);
    expect((await daemon.stop('SIGTERM')).code).toBe(0);
  });
});

async function localCount(root: string): Promise<number> {
  let n = 0;
  for (const d of await fs.readdir(root, { recursive: true, withFileTypes: true })) if (d.isFile()) n++;
  return n;
}
