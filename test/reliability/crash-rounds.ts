/**
 * Crash rounds: edit the folder, start `files-sync sync` or `files-sync run`, keep editing while it
 * works, SIGKILL it at a seeded random moment (counted in emulator requests, so "mid-request" is
 * hit under emulator latency), check that the manifest still parses, repeat. The caller then
 * converges with plain `sync` runs and checks the mirror.
 */
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ManifestNotFoundError } from '../../src/state/errors.js';
import { readState, waitUntilFolderFree, type StateLocation } from '../helpers/backend.js';
import { spawnCli, type Project } from '../helpers/project.js';
import { waitFor } from '../helpers/wait.js';
import { seededRng, type Rng } from './support.js';

export interface CrashRoundOptions {
  rounds: number;
  seed: number;
  /** Upper bound of emulator requests a process may make before it is killed. */
  maxRequestsBeforeKill?: number;
  /** Called after each round (soak tests log progress). */
  onRound?: (info: CrashRoundInfo) => void;
}

export interface CrashRoundInfo {
  round: number;
  command: 'sync' | 'run';
  killAfterRequests: number;
  /** Requests the process made before it died (at least the target unless it finished first). */
  requests: number;
  /** The process had exited on its own before the kill. */
  finishedFirst: boolean;
  manifestEntries: number | null;
}

/** Seeded edits: new files, rewrites (some keeping their size), a few deletes and renames. */
export async function randomEdits(root: string, rng: Rng, round: number, count: number): Promise<void> {
  const existing = await listFiles(root);
  for (let i = 0; i < count; i++) {
    const roll = rng.next();
    if (roll < 0.45 || existing.length < 20) {
      const dir = `r${rng.int(8)}`;
      await fs.mkdir(path.join(root, dir), { recursive: true });
      const rel = rng.next() < 0.2 ? `${dir}/index.md` : `${dir}/n${round}-${i}.txt`;
      await fs.writeFile(
        path.join(root, rel),
        rel.endsWith('index.md')
          ? `index ${round % 10} ${dir}\n`
          : `round ${round} file ${i} ${'y'.repeat(rng.int(300))}\n`,
      );
    } else if (roll < 0.8) {
      const rel = rng.pick(existing);
      await fs
        .writeFile(path.join(root, rel), `rewritten in round ${round} #${i} ${'z'.repeat(rng.int(100))}\n`)
        .catch(ignoreGone);
    } else if (roll < 0.9) {
      const rel = rng.pick(existing);
      await fs.rm(path.join(root, rel), { force: true });
    } else {
      const rel = rng.pick(existing);
      const to = `moved/${round}-${i}-${path.posix.basename(rel)}`;
      await fs.mkdir(path.join(root, 'moved'), { recursive: true });
      await fs.rename(path.join(root, rel), path.join(root, to)).catch(ignoreGone);
    }
  }
}

function ignoreGone(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

async function listFiles(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const d of await fs.readdir(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) out.push(...(await listFiles(root, r)));
    else if (d.isFile()) out.push(r);
  }
  return out;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/** The state reads (or was never written): a kill must never leave a half-written one. */
export async function manifestEntryCount(p: StateLocation): Promise<number | null> {
  try {
    return (await readState(p)).size;
  } catch (err) {
    if (err instanceof ManifestNotFoundError) return null;
    throw err;
  }
}

/**
 * Runs the crash rounds against a project (state in either backend: `databaseUrl` set for
 * postgres); throws as soon as the state does not read.
 */
export async function runCrashRounds(
  p: Project & StateLocation,
  opts: CrashRoundOptions,
): Promise<CrashRoundInfo[]> {
  const rng = seededRng(opts.seed);
  const maxRequests = opts.maxRequestsBeforeKill ?? 120;
  const infos: CrashRoundInfo[] = [];
  for (let round = 0; round < opts.rounds; round++) {
    await randomEdits(p.folder, rng, round, 20 + rng.int(40));
    const command = rng.next() < 0.5 ? 'sync' : 'run';
    const before = p.emulator.stats().requests;
    const killAfterRequests = 1 + rng.int(maxRequests);
    const child = spawnCli(
      command === 'sync' ? ['sync', '-c', p.configPath, '--json'] : ['run', '-c', p.configPath],
      { env: p.env },
    );
    // Keep the output (a failing round is read from it) and drain it so a pipe never fills up.
    const log = createWriteStream(path.join(p.dir, `round-${round}-${command}.log`));
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    const done = exited(child);
    let finishedFirst = false;
    void done.then(() => (finishedFirst = true));
    // Edits while the process works: some land before its scan, some during uploads.
    const editsDuring = randomEdits(p.folder, rng, round + 1000, rng.int(15));
    // A daemon that went idle before the target is killed anyway: no new request for 3 s.
    let seen = 0;
    let lastChangeAt = Date.now();
    await waitFor(
      () => {
        const made = p.emulator.stats().requests - before;
        if (made !== seen) [seen, lastChangeAt] = [made, Date.now()];
        return finishedFirst || made >= killAfterRequests || (made > 0 && Date.now() - lastChangeAt > 3000);
      },
      {
        timeoutMs: 60_000,
        intervalMs: 5,
        message: `round ${round}: ${command} to make ${killAfterRequests} requests`,
      },
    ).catch(() => undefined); // a process that never got going is killed all the same
    const exitedBeforeKill = finishedFirst;
    child.kill('SIGKILL');
    await done;
    await editsDuring;
    // The next round's process must be able to take the folder (postgres: the dead owner's lease goes stale).
    await waitUntilFolderFree(p);
    const info: CrashRoundInfo = {
      round,
      command,
      killAfterRequests,
      requests: p.emulator.stats().requests - before,
      finishedFirst: exitedBeforeKill,
      manifestEntries: await manifestEntryCount(p),
    };
    infos.push(info);
    opts.onRound?.(info);
  }
  return infos;
}
