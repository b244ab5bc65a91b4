/** Shared pieces of the reliability and soak tests: JSON sync runs, converging loops, seeded file trees. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { createPrng } from '../../src/emulator/faults.js';
import type { Project } from '../helpers/project.js';

export { syncJson, type SyncReport, type SyncRun } from '../helpers/sync-cli.js';
import { syncJson, type SyncRun } from '../helpers/sync-cli.js';

/**
 * Runs `sync` until one exits 0 (a pass may end with failures once retries are exhausted), at
 * most `maxRuns` times; returns every run so a failure can show what happened.
 */
export async function syncUntilClean(
  p: Pick<Project, 'configPath' | 'env'>,
  maxRuns: number,
  timeoutMs?: number,
): Promise<SyncRun[]> {
  const runs: SyncRun[] = [];
  for (let i = 0; i < maxRuns; i++) {
    const run = await syncJson(p, [], timeoutMs);
    runs.push(run);
    if (run.code === 0) return runs;
    if (run.code !== 1) throw new Error(`sync exited ${run.code}, not 0 or 1\n${run.stderr.slice(-4000)}`);
  }
  const last = runs.at(-1)!;
  throw new Error(
    `sync did not converge in ${maxRuns} runs; last failures: ${JSON.stringify(last.reports.map((r) => r.failed.slice(0, 5)))}`,
  );
}

/** A deterministic random source for a test: floats, ints and picks from one seed. */
export interface Rng {
  next(): number;
  int(maxExclusive: number): number;
  pick<T>(items: readonly T[]): T;
}

/** Seeded random numbers (mulberry32, the emulator's PRNG) so a failing round can be replayed. */
export function seededRng(seed: number): Rng {
  const next = createPrng(seed);
  return {
    next,
    int: (max) => Math.floor(next() * max),
    pick: (items) => items[Math.floor(next() * items.length)]!,
  };
}

/**
 * Writes `count` small files in a tree of `dirs` directories. Every directory has an `index.md`
 * of one fixed size with different content, so basename + size (all the API lets us match an
 * unanswered upload on) is ambiguous across directories on purpose.
 */
export async function writeTree(
  root: string,
  count: number,
  opts: { dirs?: number; seed?: number } = {},
): Promise<string[]> {
  const dirs = opts.dirs ?? 40;
  const rng = seededRng(opts.seed ?? 1);
  const written: string[] = [];
  const jobs: Array<() => Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const dir = `d${String(i % dirs).padStart(3, '0')}`;
    const isIndex = i < dirs;
    const rel = isIndex ? `${dir}/index.md` : `${dir}/f${String(i).padStart(6, '0')}.txt`;
    // index.md: same length everywhere (ambiguous by name and size), different bytes.
    const body = isIndex ? `index of ${dir}\n` : `file ${i} ${'x'.repeat(rng.int(200))}\n`;
    written.push(rel);
    jobs.push(async () => {
      const abs = path.join(root, dir);
      await fs.mkdir(abs, { recursive: true });
      await fs.writeFile(path.join(root, rel), body);
    });
  }
  await runLimited(jobs, 32);
  return written;
}

/** Runs async jobs at most `limit` at a time. */
export async function runLimited(jobs: ReadonlyArray<() => Promise<void>>, limit: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, jobs.length) }, async () => {
      while (next < jobs.length) await jobs[next++]!();
    }),
  );
}

/**
 * The first seed whose emulator fault draws (a rate of 0.5, one draw per request) follow
 * `pattern`: true = this request gets the fault. Makes "the second request is reset" exact.
 */
export function seedFor(pattern: readonly boolean[]): number {
  for (let seed = 1; seed < 100_000; seed++) {
    const next = createPrng(seed);
    if (pattern.every((faulted) => next() < 0.5 === faulted)) return seed;
  }
  throw new Error('no seed found');
}
