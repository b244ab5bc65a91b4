/**
 * Soak: 100,000 small files synced to the emulator by one `files-sync sync`, then a second run
 * that must change nothing. Prints each run's duration and peak RSS (VmHWM polled from
 * /proc/<pid>/status while it runs, since it is gone once the process exits). SOAK_FILES resizes.
 */
import fs from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { makeProject, spawnCli, type Project } from '../helpers/project.js';
import { mirrorProblems } from '../helpers/mirror.js';
import { writeTree } from '../reliability/support.js';

const FILES = Number(process.env.SOAK_FILES ?? 100_000);

interface MeasuredRun {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  peakRssMiB: number | null;
}

/** Peak resident set size so far (VmHWM) of a live process, in KiB; null once it is gone. */
async function vmHwmKiB(pid: number): Promise<number | null> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8').catch(() => null);
  const m = status?.match(/^VmHWM:\s+(\d+) kB$/m);
  return m ? Number(m[1]) : null;
}

/** Runs `sync --json` while polling its peak RSS every 100 ms. */
async function measuredSync(p: Project): Promise<MeasuredRun> {
  const started = Date.now();
  const child = spawnCli(['sync', '-c', p.configPath, '--json'], { env: p.env });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let peak: number | null = null;
  let running = true;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const poll = (async () => {
    while (running) {
      const kib = await vmHwmKiB(child.pid!);
      if (kib !== null) peak = Math.max(peak ?? 0, kib);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const code = await exited;
  running = false;
  await poll;
  return {
    code,
    stdout,
    stderr,
    seconds: (Date.now() - started) / 1000,
    peakRssMiB: peak === null ? null : Math.round(peak / 1024),
  };
}

describe('soak: load', () => {
  it(`${FILES} files sync in one run; a second run changes nothing; peak RSS reported`, async () => {
    const project = await makeProject({
      config: { api: { concurrency: 16, maxConnections: 16 }, log: { level: 'warn' } },
    });
    const t0 = Date.now();
    await writeTree(project.folder, FILES, { dirs: 1000, seed: 11 });
    console.log(`wrote ${FILES} files in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const first = await measuredSync(project);
    console.log(
      `first sync: exit ${first.code}, ${first.seconds.toFixed(1)} s, peak RSS ${first.peakRssMiB ?? '?'} MiB`,
    );
    expect(first.code, first.stderr.slice(-2000)).toBe(0);
    const [r1] = JSON.parse(first.stdout) as Array<{ uploaded: number; failed: unknown[] }>;
    expect(r1).toMatchObject({ uploaded: FILES, failed: [] });

    const second = await measuredSync(project);
    console.log(
      `second sync: exit ${second.code}, ${second.seconds.toFixed(1)} s, peak RSS ${second.peakRssMiB ?? '?'} MiB`,
    );
    expect(second.code).toBe(0);
    const [r2] = JSON.parse(second.stdout) as Array<{ uploaded: number; hashed: number; unchanged: number }>;
    expect(r2).toMatchObject({ uploaded: 0, hashed: 0, unchanged: FILES });

    expect(await mirrorProblems(project)).toEqual([]);
    expect(project.emulator.stats().uploadsCreated).toBe(FILES);
  });
});
