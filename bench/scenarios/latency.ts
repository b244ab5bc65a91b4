/**
 * Scenario 4: change latency. Distinct files of a large synced tree are rewritten at a steady
 * pace while the daemon runs; each edit's latency runs from the end of the write to the emulator's
 * answer to the upload of that new version. Baseline: the configured debounce (the quiet period
 * the daemon waits on purpose) and the same edits' upload time by the SDK (one request each).
 */
import path from 'node:path';
import { writeCorpus } from '../corpus.js';
import { assertExitOk, REPO_ROOT, runNode } from '../lib/child.js';
import { runEditsUnderDaemon, type EditRunOptions } from '../lib/edit-run.js';
import { startBenchEmulator } from '../lib/emulator.js';
import { productEnv } from '../lib/product.js';
import { percentile, ratioOf, seconds, type Check, type Measurement, type Scenario } from '../lib/results.js';
import { smallFilesSpec } from '../lib/synced-tree.js';

const OURS = 'files-sync run';
const FLOOR = 'debounce + one SDK upload';

/** Uploads `count` small files one at a time with the SDK and returns each request's duration. */
async function sdkUploadLatencies(dir: string, seed: number, count: number): Promise<number[]> {
  const root = path.join(dir, 'sdk-latency');
  await writeCorpus(root, smallFilesSpec(seed ^ 0x51a7, count));
  const emulator = await startBenchEmulator();
  try {
    const run = await runNode(
      path.join(REPO_ROOT, 'bench', 'baselines', 'sdk-latency.ts'),
      ['--root', root],
      { env: productEnv(emulator.url) },
    );
    assertExitOk(run, 'sdk-latency');
    return (JSON.parse(run.stdout) as { latenciesMs: number[] }).latenciesMs;
  } finally {
    await emulator.close();
  }
}

/** The daemon run shared with the manifest scenario (same options = one run). */
export function editRunOptions(quick: boolean, seed: number): EditRunOptions {
  return quick
    ? { seed, treeFiles: 10_000, edits: 100, intervalMs: 50, debounceMs: 200 }
    : { seed, treeFiles: 100_000, edits: 1000, intervalMs: 50, debounceMs: 200 };
}

export const latencyScenario: Scenario = {
  id: 'latency',
  title: 'Change latency while the daemon runs: write to remote visible',
  async run(ctx) {
    const options = editRunOptions(ctx.quick, ctx.seed);
    const r = await runEditsUnderDaemon(options, ctx.log);
    const l = r.latenciesMs;
    const checks: Check[] = [
      {
        name: 'every edit became visible remotely',
        ok: r.missing === 0,
        detail: `${r.missing} of ${r.edits} never seen`,
      },
      {
        name: "the remote holds every edit's final content",
        ok: r.wrongContent === 0,
        detail: `${r.wrongContent} of ${r.edits} differ`,
      },
      {
        name: 'one upload per edit (no duplicates)',
        ok: r.uploads === r.edits,
        detail: `${r.uploads} uploads, ${r.deletes} deletes for ${r.edits} edits`,
      },
    ];
    const stat = (p: number) => (l.length ? seconds(percentile(l, p)) : null);
    ctx.log(`baseline: ${options.edits} single small uploads with the SDK`);
    const sdk = await sdkUploadLatencies(ctx.workDir, ctx.seed, options.edits);
    const floor = (p: number) => (options.debounceMs + percentile(sdk, p)) / 1000;
    const measurements: Measurement[] = [
      {
        contender: OURS,
        role: 'ours',
        metrics: {
          p50_s: stat(50),
          p95_s: stat(95),
          p99_s: stat(99),
          max_s: l.length ? seconds(Math.max(...l)) : null,
          p50_minus_debounce_s: stat(50) === null ? null : stat(50)! - options.debounceMs / 1000,
          edits_per_s: r.editWindowMs > 0 ? (r.edits - r.missing) / (r.editWindowMs / 1000) : null,
          daemon_cpu_during_edits_s: seconds(r.daemonEditCpuMs),
          daemon_rss_after_mb: r.daemonRssAfterMB,
          manifest_writes: r.manifestWrites,
        },
        note: `watcher ${r.watchBackend} (the default), watch.debounceMs ${options.debounceMs}, api.concurrency 4, ${options.edits} distinct files rewritten every ${options.intervalMs} ms in a tree of ${options.treeFiles} synced files`,
      },
      {
        contender: FLOOR,
        role: 'baseline',
        metrics: {
          p50_s: floor(50),
          p95_s: floor(95),
          p99_s: floor(99),
          max_s: floor(100),
          sdk_upload_p50_s: seconds(percentile(sdk, 50)),
        },
        note: `the configured quiet period (${options.debounceMs} ms, waited on purpose) plus the duration of one small upload by the official SDK, one request at a time (bench/baselines/sdk-latency.ts, ${sdk.length} uploads, same percentile): what an ideal watcher would achieve`,
      },
    ];
    return {
      sizes: {
        tree_files: options.treeFiles,
        edits: options.edits,
        interval_ms: options.intervalMs,
        debounce_ms: options.debounceMs,
      },
      measurements,
      ratios: ['p50_s', 'p95_s', 'p99_s', 'max_s'].map((metric) =>
        ratioOf(measurements, OURS, FLOOR, metric, 'lower'),
      ),
      checks,
      notes: [
        "Latency = emulator's upload answer for the new size minus the end of the local write, both on this process's clock. The daemon's reconciliation timer is off, so only the watcher path is measured.",
        `The daemon became ready (start-up reconciliation and watcher crawl done) ${(r.daemonReadyMs / 1000).toFixed(1)} s after spawn; that is not part of any latency.`,
      ],
    };
  },
};
