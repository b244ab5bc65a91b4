import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateLockedError } from '../../src/state/errors.js';
import { acquireLock, LOCK_FILE_NAME, readLockHolder, type StateLock } from '../../src/state/lock.js';
import { processStartId } from '../../src/state/process.js';

const LOCK_MODULE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/state/lock.ts');

// A child that takes the lock, reports "won" or "locked", and holds it until its stdin closes.
const CHILD_SCRIPT = `
const { acquireLock } = await import(process.env.LOCK_MODULE);
try {
  const lock = await acquireLock(process.env.STATE_DIR);
  console.log('won ' + JSON.stringify(lock.tookOverStaleFrom ?? 'none'));
  process.stdin.resume();
  process.stdin.on('end', async () => { if (process.env.RELEASE === '1') await lock.release(); process.exit(0); });
} catch (err) {
  console.log('locked ' + err.name);
  process.exit(0);
}
`;

interface Child {
  proc: ChildProcess;
  firstLine: Promise<string>;
}

const children: ChildProcess[] = [];

function startChild(stateDir: string, env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD_SCRIPT], {
    env: { ...process.env, LOCK_MODULE, STATE_DIR: stateDir, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(proc);
  const lines = createInterface({ input: proc.stdout });
  const firstLine = new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`child exited (${code}) before reporting`)));
  });
  return { proc, firstLine };
}

async function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  await once(proc, 'exit');
}

/** A pid that certainly belongs to no running process: one of a child that has exited. */
async function deadPid(): Promise<number> {
  const proc = spawn(process.execPath, ['-e', '0']);
  await once(proc, 'exit');
  return proc.pid!;
}

let dir: string;
const held: StateLock[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'files-sync-lock-'));
});

afterEach(async () => {
  for (const lock of held.splice(0)) await lock.release();
  for (const proc of children.splice(0)) {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited(proc);
    }
  }
  await rm(dir, { recursive: true, force: true });
});

async function take(stateDir: string): Promise<StateLock> {
  const lock = await acquireLock(stateDir);
  held.push(lock);
  return lock;
}

describe('acquireLock', () => {
  it('creates the state directory 0700 and a lock file naming this process', async () => {
    const stateDir = path.join(dir, 'nested', 'state');
    const lock = await take(stateDir);
    expect((await stat(stateDir)).mode & 0o777).toBe(0o700);
    expect(lock.file).toBe(path.join(stateDir, LOCK_FILE_NAME));
    expect(lock.tookOverStaleFrom).toBeUndefined();
    const content = JSON.parse(await readFile(lock.file, 'utf8'));
    expect(content).toEqual({
      pid: process.pid,
      hostname: os.hostname(),
      startedAt: lock.holder.startedAt,
      processStart: processStartId(process.pid),
    });
    if (process.platform === 'linux') expect(content.processStart).toMatch(/^[\w-]+:\d+$/);
    expect(await readLockHolder(stateDir)).toEqual(lock.holder);
  });

  it('refuses a second holder in the same process, and allows it after release', async () => {
    const first = await take(dir);
    await expect(acquireLock(dir)).rejects.toBeInstanceOf(StateLockedError);
    await first.release();
    await expect(readFile(first.file)).rejects.toMatchObject({ code: 'ENOENT' });
    await take(dir);
  });

  it('names the live holder pid and the lock file when another process holds it', async () => {
    const child = startChild(dir, { RELEASE: '1' });
    expect(await child.firstLine).toBe('won "none"');
    const err = (await acquireLock(dir).catch((e: unknown) => e)) as StateLockedError;
    expect(err).toBeInstanceOf(StateLockedError);
    expect(err.message).toContain(`pid ${child.proc.pid}`);
    expect(err.message).toContain(path.join(dir, LOCK_FILE_NAME));
    expect(err.context).toMatchObject({
      holderPid: child.proc.pid,
      lockFile: path.join(dir, LOCK_FILE_NAME),
    });

    child.proc.stdin!.end();
    await exited(child.proc);
    const lock = await take(dir);
    expect(lock.tookOverStaleFrom).toBeUndefined();
  });

  it('takes over the lock of a process that was killed', async () => {
    const child = startChild(dir);
    expect(await child.firstLine).toBe('won "none"');
    child.proc.kill('SIGKILL');
    await exited(child.proc);
    expect((await readLockHolder(dir))?.pid).toBe(child.proc.pid);
    const lock = await take(dir);
    expect(lock.tookOverStaleFrom).toBe(child.proc.pid);
    expect(JSON.parse(await readFile(lock.file, 'utf8')).pid).toBe(process.pid);
  });

  it('removes its lock file when the holder exits normally without releasing', async () => {
    const child = startChild(dir);
    expect(await child.firstLine).toBe('won "none"');
    child.proc.stdin!.end();
    await exited(child.proc);
    expect(await readLockHolder(dir)).toBeUndefined();
  });

  it('lets exactly one of several processes take over a stale lock', async () => {
    const stale = await deadPid();
    await writeFile(
      path.join(dir, LOCK_FILE_NAME),
      JSON.stringify({ pid: stale, hostname: os.hostname(), startedAt: new Date(0).toISOString() }),
    );
    const racers = Array.from({ length: 4 }, () => startChild(dir));
    const outcomes = await Promise.all(racers.map((r) => r.firstLine));
    expect(outcomes.filter((o) => o === `won ${stale}`)).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'locked StateLockedError')).toHaveLength(3);
  });

  it('lets exactly one of many interleaved in-process attempts take over a stale lock', async () => {
    const stale = await deadPid();
    await writeFile(
      path.join(dir, LOCK_FILE_NAME),
      JSON.stringify({ pid: stale, hostname: os.hostname(), startedAt: new Date(0).toISOString() }),
    );
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => acquireLock(dir)));
    const won = results.filter((r): r is PromiseFulfilledResult<StateLock> => r.status === 'fulfilled');
    for (const w of won) held.push(w.value);
    expect(won).toHaveLength(1);
    expect(won[0]!.value.tookOverStaleFrom).toBe(stale);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(StateLockedError);
  });

  it('treats a lock naming our own pid that this process never took as stale (a restarted container)', async () => {
    await writeFile(
      path.join(dir, LOCK_FILE_NAME),
      JSON.stringify({ pid: process.pid, hostname: os.hostname(), startedAt: new Date(0).toISOString() }),
    );
    const lock = await take(dir);
    expect(lock.tookOverStaleFrom).toBe(process.pid);
  });

  // A reboot: the old holder is gone and an unrelated process (here a `sleep`) now has its pid.
  it.runIf(process.platform === 'linux')(
    'takes over a lock whose pid is alive but belongs to another process (start time differs)',
    async () => {
      const unrelated = spawn('sleep', ['30']);
      children.push(unrelated);
      const pid = unrelated.pid!;
      const real = processStartId(pid);
      expect(real).toBeDefined();
      const [boot, ticks] = real!.split(':');
      await writeFile(
        path.join(dir, LOCK_FILE_NAME),
        JSON.stringify({
          pid,
          hostname: os.hostname(),
          startedAt: new Date(0).toISOString(),
          processStart: `${boot}:${Number(ticks) + 1}`,
        }),
      );
      const lock = await take(dir);
      expect(lock.tookOverStaleFrom).toBe(pid);
      expect(unrelated.exitCode).toBeNull(); // taken over, not killed
    },
  );

  it('still refuses a lock whose holder is alive with the start time it recorded', async () => {
    const child = startChild(dir, { RELEASE: '1' });
    expect(await child.firstLine).toBe('won "none"');
    const holder = await readLockHolder(dir);
    expect(holder?.processStart).toBe(processStartId(child.proc.pid!));
    await expect(acquireLock(dir)).rejects.toBeInstanceOf(StateLockedError);
  });

  it('treats a lock from another host as held, since its pid cannot be checked', async () => {
    await writeFile(
      path.join(dir, LOCK_FILE_NAME),
      JSON.stringify({
        pid: await deadPid(),
        hostname: 'elsewhere.example',
        startedAt: new Date(0).toISOString(),
      }),
    );
    await expect(acquireLock(dir)).rejects.toThrow(/on host elsewhere\.example/);
  });

  it('takes over an unreadable lock file and says the holder is unknown', async () => {
    await writeFile(path.join(dir, LOCK_FILE_NAME), 'garbage');
    const lock = await take(dir);
    expect(lock.tookOverStaleFrom).toBeNull();
  });

  it('release leaves alone a lock file that is no longer ours', async () => {
    const lock = await take(dir);
    const foreign = JSON.stringify({ pid: 1, hostname: 'other', startedAt: 'x' });
    await writeFile(lock.file, foreign);
    await lock.release();
    expect(await readFile(lock.file, 'utf8')).toBe(foreign);
  });
});
