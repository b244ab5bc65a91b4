/**
 * F2 (issue 9): the daemon's delete guard judges everything queued, held and recently sent, not
 * each watcher batch alone. Emptying a folder, deleting 60% at once, or deleting every file one
 * by one: no delete reaches the server, and the hold is reported once with how to release it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeProject, TEST_KEY, type Project } from '../helpers/project.js';
import { waitFor } from '../helpers/wait.js';
import { loadConfig } from '../../src/config/load.js';
import { FilesClient } from '../../src/api/client.js';
import { FolderSync } from '../../src/sync/folder.js';
import { captureLogger, type LogLine } from './daemon-harness.js';

const FILES = 500;
let project: Project | undefined;
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await project?.cleanup();
  project = undefined;
});

/** A watched folder of FILES synced files, with removals kept for 60 s (the default retention). */
async function syncedFolder(): Promise<{ p: Project; folder: FolderSync; lines: LogLine[] }> {
  const files: Record<string, string> = {};
  for (let i = 0; i < FILES; i++) files[`f-${String(i).padStart(3, '0')}.txt`] = `file ${i}`;
  const p = (project = await makeProject({
    files,
    // The watcher can miss a removal (inotify under load); the product's answer is the periodic
    // reconciliation, so it runs every 10 s here and a missed removal is judged by the guard too.
    config: {
      retention: { supersededMs: 600_000, removedMs: 60_000 },
      api: { concurrency: 8 },
      reconcile: { intervalMs: 10_000 },
    },
  }));
  const { config } = await loadConfig({ configPath: p.configPath, env: p.env });
  const { logger, lines } = captureLogger('info');
  const client = new FilesClient({ apiKey: TEST_KEY, baseUrl: p.emulator.url, logger });
  cleanups.push(() => client.close());
  const folder = new FolderSync({ config, folder: config.folders[0]!, client, logger });
  cleanups.push(() => folder.stop());
  await folder.start();
  await waitFor(() => folder.status().filesTracked === FILES, { timeoutMs: 60_000 });
  await folder.idle();
  return { p, folder, lines };
}

/** Waits until `count` removals are held (or a delete got through), then checks nothing was sent. */
async function expectAllHeld(p: Project, folder: FolderSync, lines: LogLine[], count: number): Promise<void> {
  await waitFor(() => folder.status().heldDeletes >= count || p.emulator.stats().deletes > 0, {
    timeoutMs: 60_000,
    message: () => `held ${folder.status().heldDeletes}, sent ${p.emulator.stats().deletes}`,
  });
  expect(p.emulator.stats().deletes, 'deletes that reached the server').toBe(0);
  await folder.idle();
  expect(p.emulator.stats().deletes, 'deletes that reached the server').toBe(0);
  expect(folder.status().heldDeletes).toBe(count);
  expect(folder.status().heldReason).toMatch(/--allow-mass-delete/);
  const holds = lines.filter((l) => String(l.msg).startsWith('deletes held by the safety guard'));
  expect(holds, 'the hold is reported once').toHaveLength(1);
  expect(String(holds[0]!['reason'])).toMatch(/safety\.max(Deletes|DeletePercent)/);
  expect(p.emulator.files()).toHaveLength(FILES);
}

describe('F2: the delete guard sees the whole picture', () => {
  it(`emptying a ${FILES}-file folder sends no delete`, async () => {
    const { p, folder, lines } = await syncedFolder();
    for (const name of await fs.readdir(p.folder)) await fs.rm(path.join(p.folder, name));
    await expectAllHeld(p, folder, lines, FILES);
  }, 120_000);

  it('deleting 60% at once sends no delete', async () => {
    const { p, folder, lines } = await syncedFolder();
    const names = (await fs.readdir(p.folder)).sort().slice(0, FILES * 0.6);
    for (const name of names) await fs.rm(path.join(p.folder, name));
    await expectAllHeld(p, folder, lines, names.length);
  }, 120_000);

  it('deleting every file one every 40 ms sends no delete', async () => {
    const { p, folder, lines } = await syncedFolder();
    for (const name of await fs.readdir(p.folder)) {
      await fs.rm(path.join(p.folder, name));
      // The pace is the scenario (a user or script deleting steadily), not a wait for a condition.
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    await expectAllHeld(p, folder, lines, FILES);
  }, 120_000);
});
