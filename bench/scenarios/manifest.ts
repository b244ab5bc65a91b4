/**
 * Scenario 6: manifest write count and cost. (a) A 10k-file initial sync run in-process through
 * the engine (openFolderSession + reconcileSession), reading Manifest.writeCount. (b) The
 * edits-under-the-daemon run of the latency scenario on a 100k-entry manifest, counting the
 * atomic renames onto the manifest file. Baseline: one write per change, at the measured cost.
 */
import { watch } from 'node:fs';
import path from 'node:path';
import { FilesClient } from '../../src/api/client.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { acquireLock } from '../../src/state/lock.js';
import { openFolderSession, reconcileSession } from '../../src/sync/session.js';
import { writeCorpus } from '../corpus.js';
import { runEditsUnderDaemon } from '../lib/edit-run.js';
import { BENCH_API_KEY, startBenchEmulator } from '../lib/emulator.js';
import { measureManifestWriteCost, type ManifestWriteCost } from '../lib/manifest-cost.js';
import { FOLDER_NAME, writeProductConfig } from '../lib/product.js';
import {
  ratioOf,
  round,
  seconds,
  type Check,
  type Measurement,
  type Ratio,
  type Scenario,
} from '../lib/results.js';
import { smallFilesSpec } from '../lib/synced-tree.js';
import { editRunOptions } from './latency.js';

interface InProcessSync {
  files: number;
  writes: number;
  renamesSeen: number;
  syncMs: number;
  uploaded: number;
  cost: ManifestWriteCost;
}

/** Syncs `files` new small files in this process and counts the manifest writes it made. */
async function syncInProcess(workDir: string, seed: number, files: number): Promise<InProcessSync> {
  const root = path.join(workDir, 'tree');
  const stateDir = path.join(workDir, 'state');
  await writeCorpus(root, smallFilesSpec(seed ^ 0x3a11, files));
  const emulator = await startBenchEmulator();
  try {
    const configPath = await writeProductConfig(workDir, {
      baseUrl: emulator.url,
      folderPath: root,
      stateDir,
      concurrency: 4,
      watch: false,
    });
    const { config } = await loadConfig({ configPath, env: {} });
    const folder = config.folders[0]!;
    const client = new FilesClient({
      apiKey: BENCH_API_KEY,
      baseUrl: emulator.url,
      maxConnections: config.api.maxConnections,
    });
    const lock = await acquireLock(stateDir);
    let renamesSeen = 0;
    const watcher = watch(stateDir, (event, name) => {
      if (event === 'rename' && name === `${FOLDER_NAME}.manifest.json`) renamesSeen++;
    });
    try {
      const session = await openFolderSession(config, folder, client, silentLogger());
      const writesAtOpen = session.manifest.writeCount;
      const started = performance.now();
      const report = await reconcileSession(session, config, client, {});
      await session.close();
      const syncMs = performance.now() - started;
      const writes = session.manifest.writeCount - writesAtOpen;
      // Let the last rename event arrive before the watcher closes.
      await new Promise((r) => setTimeout(r, 200));
      watcher.close();
      await lock.release();
      const cost = await measureManifestWriteCost(stateDir, { name: FOLDER_NAME, root: folder.path });
      return { files, writes, renamesSeen, syncMs, uploaded: report.uploaded, cost };
    } finally {
      watcher.close();
      await lock.release();
      await client.close();
    }
  } finally {
    await emulator.close();
  }
}

function costMetrics(writes: number, changes: number, cost: ManifestWriteCost): Record<string, number> {
  return {
    manifest_writes: writes,
    writes_per_change: writes / changes,
    manifest_entries: cost.entries,
    manifest_mb: cost.bytes / 1024 ** 2,
    write_ms: cost.writeMs,
    stringify_ms: cost.stringifyMs,
    est_write_time_s: (writes * cost.writeMs) / 1000,
  };
}

function naive(changes: number, cost: ManifestWriteCost): Record<string, number> {
  return {
    manifest_writes: changes,
    writes_per_change: 1,
    write_ms: cost.writeMs,
    est_write_time_s: (changes * cost.writeMs) / 1000,
  };
}

export const manifestScenario: Scenario = {
  id: 'manifest',
  title: 'Manifest writes: count and cost during a sync and during scattered edits',
  async run(ctx) {
    const syncFiles = ctx.quick ? 2_000 : 10_000;
    const measurements: Measurement[] = [];
    const checks: Check[] = [];
    const ratios: Ratio[] = [];

    ctx.log(`(a) in-process initial sync of ${syncFiles} files`);
    const a = await syncInProcess(ctx.workDir, ctx.seed, syncFiles);
    const oursA = `sync of ${syncFiles} new files`;
    const naiveA = `one write per uploaded file (${syncFiles} files)`;
    measurements.push({
      contender: oursA,
      role: 'ours',
      metrics: {
        ...costMetrics(a.writes, a.files, a.cost),
        sync_s: seconds(a.syncMs),
        est_write_share: (a.writes * a.cost.writeMs) / a.syncMs,
      },
      note: `Manifest.writeCount over openFolderSession + reconcileSession + close; ${a.renamesSeen} renames onto the file were seen by fs.watch`,
    });
    measurements.push({ contender: naiveA, role: 'baseline', metrics: naive(a.files, a.cost) });
    ratios.push(ratioOf(measurements, oursA, naiveA, 'manifest_writes', 'lower'));
    checks.push({
      name: `(a) all ${syncFiles} files uploaded`,
      ok: a.uploaded === syncFiles,
      detail: `${a.uploaded} uploaded`,
    });
    checks.push({
      name: '(a) writeCount agrees with the renames seen on disk',
      ok: Math.abs(a.renamesSeen - a.writes) <= 1,
      detail: `writeCount ${a.writes}, renames ${a.renamesSeen}`,
    });

    const options = editRunOptions(ctx.quick, ctx.seed);
    ctx.log(`(b) ${options.edits} scattered edits on a ${options.treeFiles}-entry manifest under the daemon`);
    const b = await runEditsUnderDaemon(options, ctx.log);
    const oursB = `${options.edits} scattered edits, ${options.treeFiles}-entry manifest`;
    const naiveB = `one write per edit (${options.edits} edits)`;
    const windowMs = b.editWindowMs + 6_000;
    measurements.push({
      contender: oursB,
      role: 'ours',
      metrics: {
        ...costMetrics(b.manifestWrites, b.edits, b.manifestCost),
        window_s: seconds(windowMs),
        est_write_share: (b.manifestWrites * b.manifestCost.writeMs) / windowMs,
      },
      note: `the daemon (child process) handling the latency scenario's edits (every ${options.intervalMs} ms, debounce ${options.debounceMs} ms); writes = renames onto the manifest file seen by fs.watch from the first edit until 6 s after the last was visible`,
    });
    measurements.push({ contender: naiveB, role: 'baseline', metrics: naive(b.edits, b.manifestCost) });
    ratios.push(ratioOf(measurements, oursB, naiveB, 'manifest_writes', 'lower'));
    checks.push({
      name: '(b) every edit became visible remotely',
      ok: b.missing === 0,
      detail: `${b.missing} missing`,
    });

    return {
      sizes: {
        sync_files: syncFiles,
        edit_tree_files: options.treeFiles,
        edits: options.edits,
        edit_interval_ms: options.intervalMs,
      },
      measurements,
      ratios,
      checks,
      notes: [
        'write_ms is the median Manifest.flush() of the full manifest at that size (stringify, temp file, fsync, rename, directory fsync), measured in-process right after the run; stringify_ms is the part that blocks the event loop.',
        'est_write_time_s = writes x write_ms; est_write_share is that over the sync time (a) or the edit window (b). Writes overlap uploads, so this is the time spent writing, not time added.',
        `A naive "write after every change" would make ${a.files} writes for (a) and ${b.edits} for (b); durable pending intents are included in our counts.`,
        `Manifest size: ${round(a.cost.bytes / 1024 ** 2)} MB at ${a.cost.entries} entries, ${round(b.manifestCost.bytes / 1024 ** 2)} MB at ${b.manifestCost.entries} entries.`,
      ],
    };
  },
};
