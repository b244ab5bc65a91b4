/**
 * Unsafe files around the state dir (issue 10 F3, F10, F11): a symlink planted where the status
 * snapshot's temp file used to go writes nothing outside; a group/world-writable state dir is
 * refused before anything runs (exit 78); a key file open to others warns like ssh but works; a
 * lock whose pid now belongs to an unrelated process does not block start-up, a live holder does.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { onCleanup } from '../helpers/cleanup.js';
import { makeProject, runCli, TEST_KEY, type Project } from '../helpers/project.js';
import { waitFor } from '../helpers/wait.js';
import { FilesClient } from '../../src/api/client.js';
import { loadConfig } from '../../src/config/load.js';
import { Daemon } from '../../src/daemon.js';
import { acquireLock, LOCK_FILE_NAME } from '../../src/state/lock.js';
import { processStartId } from '../../src/state/process.js';
import { STATUS_FILE } from '../../src/status.js';

const silent = pino({ level: 'silent' });

async function startDaemon(p: Project): Promise<Daemon> {
  const { config } = await loadConfig({ configPath: p.configPath, env: p.env });
  const client = new FilesClient({ apiKey: TEST_KEY, baseUrl: p.emulator.url, logger: silent });
  const daemon = new Daemon({ config, configPath: p.configPath, client, logger: silent, httpListen: null });
  onCleanup(() => daemon.stop()); // stop() closes the client too
  await daemon.start();
  return daemon;
}

async function withConfig(p: Project, patch: (c: Record<string, unknown>) => void): Promise<void> {
  const config = JSON.parse(await fs.readFile(p.configPath, 'utf8')) as Record<string, unknown>;
  patch(config);
  await fs.writeFile(p.configPath, JSON.stringify(config, null, 2));
}

describe('F3: temp files in the state dir', () => {
  it('writes nothing through a symlink planted at the old predictable status temp name', async () => {
    const p = await makeProject({ files: { 'a.txt': 'a\n' } });
    await fs.mkdir(p.stateDir, { mode: 0o700 });
    const outside = path.join(p.dir, 'outside.txt');
    await fs.writeFile(outside, 'precious\n');
    // The daemon runs in this process, so this is the name the old code wrote through.
    const planted = path.join(p.stateDir, `${STATUS_FILE}.${process.pid}.tmp`);
    await fs.symlink(outside, planted);

    const daemon = await startDaemon(p);
    await daemon.idle();
    const statusFile = path.join(p.stateDir, STATUS_FILE);
    await waitFor(async () => (await fs.readFile(statusFile, 'utf8')).includes('"folders"'), {
      message: 'status.json written',
    });
    expect(await fs.readFile(outside, 'utf8')).toBe('precious\n');
    expect((await fs.lstat(planted)).isSymbolicLink()).toBe(true);
    const st = await fs.lstat(statusFile);
    expect(st.isFile()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });
});

describe('F11: a state dir others can write to, a key file others can read', () => {
  for (const mode of [0o770, 0o707]) {
    it(`refuses a state dir with mode ${mode.toString(8)} before anything runs (exit 78, names the fix)`, async () => {
      const p = await makeProject({ files: { 'a.txt': 'a\n' } });
      await fs.mkdir(p.stateDir);
      await fs.chmod(p.stateDir, mode);
      for (const args of [['sync'], ['ls']]) {
        const r = await runCli([...args, '-c', p.configPath], { env: p.env });
        expect(r.code, r.stderr).toBe(78);
        expect(r.stderr).toContain(`state directory ${p.stateDir} is writable by`);
        expect(r.stderr).toContain(`chmod 700 ${p.stateDir}`);
      }
      expect(p.emulator.files()).toHaveLength(0);
      expect(await fs.readdir(p.stateDir)).toEqual([]);
    });
  }

  it('uses a 0700 state dir as before', async () => {
    const p = await makeProject({ files: { 'a.txt': 'a\n' } });
    await fs.mkdir(p.stateDir, { mode: 0o700 });
    const r = await runCli(['sync', '-c', p.configPath], { env: p.env });
    expect(r.code, r.stderr).toBe(0);
    expect(p.emulator.files()).toHaveLength(1);
  });

  it('warns (like ssh) about a key file open to others but still uses it; a 0600 one is quiet', async () => {
    const p = await makeProject({ files: { 'a.txt': 'a\n' } });
    const keyFile = path.join(p.dir, 'api.key');
    await fs.writeFile(keyFile, `${TEST_KEY}\n`);
    await withConfig(p, (c) => {
      (c.api as Record<string, unknown>).keyFile = keyFile;
    });
    const env = { ...p.env };
    delete env.ANTHROPIC_API_KEY;

    await fs.chmod(keyFile, 0o644);
    const loose = await runCli(['sync', '-c', p.configPath], { env });
    expect(loose.code, loose.stderr).toBe(0);
    expect(loose.stderr).toContain(`WARNING: key file ${keyFile} is open to other users (mode 0644)`);
    expect(loose.stderr).toContain(`chmod 600 ${keyFile}`);
    expect(loose.stderr).not.toContain(TEST_KEY);
    expect(p.emulator.files()).toHaveLength(1);

    await fs.chmod(keyFile, 0o600);
    const tight = await runCli(['sync', '-c', p.configPath], { env });
    expect(tight.code, tight.stderr).toBe(0);
    expect(tight.stderr).not.toContain('WARNING');
  });
});

describe('F10: a lock whose pid was reused', () => {
  it.runIf(process.platform === 'linux')(
    'sync takes over a lock naming a live unrelated process whose start time differs',
    async () => {
      const p = await makeProject({ files: { 'a.txt': 'a\n' } });
      await fs.mkdir(p.stateDir, { mode: 0o700 });
      const unrelated = spawn('sleep', ['60']);
      onCleanup(async () => void unrelated.kill('SIGKILL'));
      const pid = unrelated.pid!;
      const [boot, ticks] = processStartId(pid)!.split(':');
      await fs.writeFile(
        path.join(p.stateDir, LOCK_FILE_NAME),
        JSON.stringify({
          pid,
          hostname: os.hostname(),
          startedAt: new Date(0).toISOString(),
          processStart: `${boot}:${Number(ticks) - 1}`,
        }),
      );
      const r = await runCli(['sync', '-c', p.configPath], { env: p.env });
      expect(r.code, r.stderr).toBe(0);
      expect(p.emulator.files()).toHaveLength(1);
      expect(unrelated.exitCode).toBeNull();
    },
  );

  it('sync still stops with exit 75 while the recorded holder is really running', async () => {
    const p = await makeProject({ files: { 'a.txt': 'a\n' } });
    const lock = await acquireLock(p.stateDir); // held by this (live) test process
    onCleanup(() => lock.release());
    const r = await runCli(['sync', '-c', p.configPath], { env: p.env });
    expect(r.code, r.stderr).toBe(75);
    expect(r.stderr).toContain(`pid ${process.pid}`);
    expect(p.emulator.files()).toHaveLength(0);
  });
});
