/**
 * A killed run leaves intents for uploads it never started. The next run drops each such intent
 * and uploads the path again in one batch; the new upload's own intent must stay on disk until
 * its answer is recorded, or a second kill mid-upload leaves an orphan nobody can find. Run against
 * both state backends (postgres: the killed run's lease must go stale before the next run).
 */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { remoteNameFor } from '../../src/api/filename.js';
import { hashFile } from '../../src/local/hash.js';
import { BACKENDS, backendProject, openStateForWriting, waitUntilFolderFree } from '../helpers/backend.js';
import { spawnCli } from '../helpers/project.js';
import { waitFor } from '../helpers/wait.js';
import { expectMirrored } from '../helpers/mirror.js';
import { seedFor, syncUntilClean } from './support.js';

describe.each(BACKENDS)('an intent left by a killed run (%s state)', (backend) => {
  it('is replaced, not erased, by the next run that uploads the same path; a kill mid-upload leaves no orphan', async () => {
    const project = await backendProject(backend, {
      files: { 'a.txt': 'alpha' },
      emulator: { faults: { latencyMs: 1500 } },
    });
    const p = project;
    // What a run killed before it started this upload leaves behind: an intent, nothing remote.
    const m = await openStateForWriting(p);
    const h = await hashFile(path.join(p.folder, 'a.txt'));
    await m.addPendingUpload(
      {
        path: 'a.txt',
        sha256: h.sha256,
        size: h.size,
        remoteName: remoteNameFor('a.txt'),
        startedAt: new Date(Date.now() - 1000).toISOString(),
      },
      { durable: true },
    );
    await m.close();

    const child = spawnCli(['sync', '-c', p.configPath, '--json'], { env: p.env });
    child.stdout!.resume();
    child.stderr!.resume();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // Killed the moment the server has created the file, before the answer can be recorded.
    await waitFor(() => p.emulator.files().length === 1, {
      timeoutMs: 60_000,
      intervalMs: 2,
      message: 'the upload to be created',
    });
    child.kill('SIGKILL');
    await exited;
    await waitUntilFolderFree(p);

    p.emulator.setFaults({});
    await syncUntilClean(p, 2);
    expect(p.emulator.stats().uploadsCreated).toBe(1);
    await expectMirrored(p);
  }, 180_000);

  it('keeps the old intent until what it created is discarded, when the file changed since (kill mid-discard)', async () => {
    const project = await backendProject(backend, { files: { 'a.txt': 'alpha, edited since: longer' } });
    const p = project;
    // The killed run uploaded the old 5-byte content and never recorded it.
    const m = await openStateForWriting(p);
    await m.addPendingUpload(
      {
        path: 'a.txt',
        sha256: 'old'.padEnd(64, '0'),
        size: 5,
        remoteName: 'a.txt',
        startedAt: new Date(Date.now() - 1000).toISOString(),
      },
      { durable: true },
    );
    await m.close();
    p.emulator.addFile({ filename: 'a.txt', sizeBytes: 5 });

    // Request 1 lists; request 2, the delete of the stray copy, gets its connection reset; the
    // process is killed before its retry.
    p.emulator.setFaults({ rateReset: 0.5, seed: seedFor([false, true]) });
    const child = spawnCli(['sync', '-c', p.configPath, '--json'], { env: p.env });
    child.stdout!.resume();
    child.stderr!.resume();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await waitFor(() => (p.emulator.stats().faultsInjected.rateReset ?? 0) >= 1, {
      timeoutMs: 60_000,
      intervalMs: 2,
      message: 'the discard to be reset',
    });
    child.kill('SIGKILL');
    await exited;
    await waitUntilFolderFree(p);

    p.emulator.setFaults({});
    await syncUntilClean(p, 2);
    await expectMirrored(p);
  }, 180_000);

  it('records every copy it will discard before it drops any intent (kill with discards still queued)', async () => {
    // Two crashed uploads of a/index.md and b/index.md: same name and size, different contents,
    // so neither copy can be adopted: both are discarded and both paths uploaded again.
    const project = await backendProject(backend, {
      files: { 'a/index.md': 'AAAA', 'b/index.md': 'BBBB' },
      config: { api: { concurrency: 2 } },
    });
    const p = project;
    const m = await openStateForWriting(p);
    for (const rel of ['a/index.md', 'b/index.md']) {
      const h = await hashFile(path.join(p.folder, rel));
      await m.addPendingUpload(
        {
          path: rel,
          sha256: h.sha256,
          size: 4,
          remoteName: 'index.md',
          startedAt: new Date(Date.now() - 1000).toISOString(),
        },
        { durable: true },
      );
      p.emulator.addFile({ filename: 'index.md', sizeBytes: 4 });
    }
    await m.close();

    // The listing passes; every later request is reset, so the first discard keeps retrying, and
    // the process is killed as soon as an upload (whose intent is written first) reaches the server.
    p.emulator.setFaults({ rateReset: 0.5, seed: seedFor([false, ...Array<boolean>(12).fill(true)]) });
    const child = spawnCli(['sync', '-c', p.configPath, '--json'], { env: p.env });
    child.stdout!.resume();
    child.stderr!.resume();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await waitFor(() => (p.emulator.stats().byRoute['POST /v1/files'] ?? 0) >= 1, {
      timeoutMs: 60_000,
      intervalMs: 2,
      message: 'an upload to be sent',
    });
    child.kill('SIGKILL');
    await exited;
    await waitUntilFolderFree(p);

    p.emulator.setFaults({});
    await syncUntilClean(p, 2);
    await expectMirrored(p);
  }, 180_000);
});
