/**
 * N1: the service (state dir from systemd's STATE_DIRECTORY) and an admin's shell (no such
 * variable) read the same config and so share one state dir: the admin sees the daemon running
 * and cannot sync beside it; an environment naming another state dir is refused.
 */
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { makeProject, runCli } from '../helpers/project.js';
import {
  killDaemon,
  projectFolder,
  readConfig,
  startDaemon,
  waitForSync,
  writeConfig,
  type DaemonProcess,
} from './daemon-harness.js';

let daemon: DaemonProcess | undefined;
afterEach(async () => {
  await killDaemon(daemon);
  daemon = undefined;
});

it('a config without stateDir: the daemon under systemd and an admin shell agree; a second sync exits 75', async () => {
  const p = await makeProject({ files: { 'a.txt': 'a', 'b.txt': 'b' } });
  const { stateDir: _explicit, ...config } = await readConfig(p);
  await writeConfig(p, config);
  const derived = path.join(p.dir, '.files-sync', 'sync.config');
  const adminEnv = { ...p.env };
  delete adminEnv.STATE_DIRECTORY;
  delete adminEnv.FILES_SYNC_STATE_DIR;

  daemon = await startDaemon(p, [], { ...adminEnv, STATE_DIRECTORY: derived });
  await waitForSync(p, {
    folders: [{ ...projectFolder(p), stateDir: derived }],
    what: 'the daemon to upload both files',
  });

  const status = await runCli(['status', '--json', '-c', p.configPath], { env: adminEnv });
  expect(status.code, status.stderr).toBe(0);
  expect(JSON.parse(status.stdout)).toMatchObject({ running: true, pid: daemon.pid });

  const sync = await runCli(['sync', '-c', p.configPath], { env: adminEnv });
  expect(sync.code, sync.stderr).toBe(75);
  expect(sync.stderr).toContain(String(daemon.pid));

  const elsewhere = path.join(p.dir, 'other-state');
  const conflicting = await runCli(['sync', '-c', p.configPath], {
    env: { ...adminEnv, FILES_SYNC_STATE_DIR: elsewhere },
  });
  expect(conflicting.code).toBe(78);
  expect(conflicting.stderr).toContain(`FILES_SYNC_STATE_DIR: names the state directory ${elsewhere}`);
  expect(conflicting.stderr).toContain(derived);

  expect(p.emulator.stats().uploadsCreated).toBe(2);
});
