/**
 * Scenario 5: memory and inotify watches of the idle daemon on large synced trees, with the
 * chokidar watcher vs the same daemon with watching turned off (the baseline: everything but
 * the watcher). Flags chokidar needing more than 400 MB at 100k files.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { isDaemonStarted, isReconcileDone, startDaemon } from '../lib/daemon.js';
import { startBenchEmulator } from '../lib/emulator.js';
import { BenchError } from '../lib/errors.js';
import { productEnv, writeProductConfig } from '../lib/product.js';
import { countInotifyWatches, inotifyWatchLimit, readMemoryMB } from '../lib/procfs.js';
import { ratioOf, round, type Check, type Measurement, type Scenario } from '../lib/results.js';
import { prepareSyncedTree } from '../lib/synced-tree.js';

/** Above this idle RSS at 100k files, another watcher backend is needed (the issue's budget). */
export const RSS_BUDGET_MB_AT_100K = 400;
const BUDGET_FILES = 100_000;

interface IdleSample {
  readyS: number;
  idleRssMB: number;
  peakRssMB: number | null;
  watches: number;
  instances: number;
}

/**
 * Both daemons serve the loopback status endpoint: with watching off nothing else keeps the
 * process alive (its timers are unref'd, so `run` exits at once with code 13), and the endpoint
 * must then be in both runs for the difference to be the watcher alone.
 */
const KEEP_ALIVE_ARGS = ['--http', '127.0.0.1:0'];

/** Starts the daemon, waits until it is ready and its RSS has settled, samples it, stops it. */
async function sampleIdleDaemon(configPath: string, env: NodeJS.ProcessEnv): Promise<IdleSample> {
  const daemon = startDaemon(configPath, env, KEEP_ALIVE_ARGS);
  try {
    await daemon.waitForLog(isReconcileDone, 20 * 60_000, 'reconciliation done');
    const ready = await daemon.waitForLog(isDaemonStarted, 20 * 60_000, 'daemon started');
    // Idle means: no work queued and RSS no longer moving (three samples within 2%), at most 20 s.
    const samples: number[] = [];
    const until = performance.now() + 20_000;
    for (;;) {
      await sleep(1000);
      const mem = await readMemoryMB(daemon.pid);
      if (mem) samples.push(mem.rssMB);
      const last = samples.slice(-3);
      const settled = last.length === 3 && Math.max(...last) <= Math.min(...last) * 1.02;
      if (settled || performance.now() > until) break;
    }
    if (samples.length === 0) throw new BenchError('the daemon exited before its memory could be sampled', { configPath });
    const inotify = await countInotifyWatches(daemon.pid);
    const run = await daemon.stop();
    return {
      readyS: (ready.at - daemon.startedAt) / 1000,
      idleRssMB: samples[samples.length - 1] ?? 0,
      peakRssMB: run.maxRssMB,
      watches: inotify.watches,
      instances: inotify.instances,
    };
  } finally {
    await daemon.stop();
  }
}

export const watchMemoryScenario: Scenario = {
  id: 'watch-memory',
  title: 'Idle daemon memory and inotify watches on large trees',
  async run(ctx) {
    const sizes = ctx.quick ? [2_000, 10_000] : [20_000, 100_000];
    const measurements: Measurement[] = [];
    const checks: Check[] = [];
    const ratios = [];
    const watcherCostMB = new Map<number, number>();
    const limit = await inotifyWatchLimit();

    for (const files of sizes) {
      const emulator = await startBenchEmulator();
      const dir = path.join(ctx.workDir, `n${files}`);
      try {
        ctx.log(`writing and seeding ${files} files`);
        const tree = await prepareSyncedTree(dir, { seed: ctx.seed, files, emulator: emulator.core });
        const env = productEnv(emulator.url);
        const results = new Map<boolean, IdleSample>();
        for (const watch of [true, false]) {
          const config = await writeProductConfig(dir, { baseUrl: emulator.url, folderPath: tree.root, stateDir: tree.stateDir, concurrency: 4, watch, reconcileIntervalMs: 0 });
          ctx.log(`${files} files, watcher ${watch ? 'on (chokidar)' : 'off'}: starting the daemon`);
          const s = await sampleIdleDaemon(config, env);
          results.set(watch, s);
          measurements.push({
            contender: `files-sync run, ${files} files, watcher ${watch ? 'chokidar' : 'off'}`,
            role: watch ? 'ours' : 'baseline',
            metrics: {
              files,
              idle_rss_mb: s.idleRssMB,
              peak_rss_mb: s.peakRssMB,
              inotify_watches: s.watches,
              inotify_instances: s.instances,
              ready_s: s.readyS,
            },
          });
        }
        const on = results.get(true)!;
        const off = results.get(false)!;
        watcherCostMB.set(files, on.idleRssMB - off.idleRssMB);
        ratios.push(ratioOf(measurements, `files-sync run, ${files} files, watcher chokidar`, `files-sync run, ${files} files, watcher off`, 'idle_rss_mb', 'lower'));
        checks.push({
          name: `${files} files: the watcher holds about one inotify watch per file`,
          ok: on.watches >= files * 0.9,
          detail: `${on.watches} watches for ${files} files (limit fs.inotify.max_user_watches ${limit ?? 'unknown'})`,
        });
      } finally {
        await emulator.close();
      }
    }

    // Linear in the file count: project the watcher's cost (and the total) to the 100k budget point.
    const [small, large] = sizes as [number, number];
    const slope = (watcherCostMB.get(large)! - watcherCostMB.get(small)!) / (large - small);
    const onLarge = measurements.find((m) => m.contender === `files-sync run, ${large} files, watcher chokidar`)!.metrics.idle_rss_mb!;
    const projected = large >= BUDGET_FILES ? onLarge : onLarge + slope * (BUDGET_FILES - large);
    const perThousand = slope * 1000;
    const over = projected > RSS_BUDGET_MB_AT_100K;
    checks.push({
      name: `chokidar daemon idle RSS at ${BUDGET_FILES} files within ${RSS_BUDGET_MB_AT_100K} MB`,
      ok: !over,
      detail: `${large >= BUDGET_FILES ? 'measured' : 'projected'} ${round(projected)} MB; the watcher alone costs about ${round(perThousand)} MB per 1000 files${over ? ' - OVER BUDGET: a second watcher backend is needed' : ''}`,
    });
    return {
      sizes: { tree_files: sizes.join(' and '), inotify_max_user_watches: limit ?? 'unknown' },
      measurements,
      ratios,
      checks,
      notes: [
        'Both daemons run with `--http 127.0.0.1:0`: without a watcher nothing else keeps `run` alive (it exits with code 13 right after start-up; reported to the daemon owners).',
        'idle_rss_mb is VmRSS once the daemon logged its start-up reconciliation and watcher ready and three 1 s samples agreed within 2%; peak_rss_mb is the process maximum (start-up included).',
        `Watcher cost (idle RSS on minus off): ${sizes.map((n) => `${n} files ${round(watcherCostMB.get(n)!)} MB`).join(', ')}; about ${round(perThousand)} MB per 1000 files.`,
        over
          ? `chokidar needs more than ${RSS_BUDGET_MB_AT_100K} MB at ${BUDGET_FILES} files (${round(projected)} MB): a second watcher backend is needed.`
          : `At ${BUDGET_FILES} files the chokidar daemon stays within ${RSS_BUDGET_MB_AT_100K} MB (${round(projected)} MB, ${large >= BUDGET_FILES ? 'measured' : 'projected'}).`,
      ],
    };
  },
};
