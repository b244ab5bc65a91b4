/**
 * Edits under a running daemon: a seeded tree, the daemon started on it, then `edits` distinct
 * files rewritten at a fixed pace. Measures, per edit, the time from the end of the write to the
 * moment the emulator answered the upload of exactly that new content's size, and counts the
 * state's durable writes (journal appends, snapshots, with their bytes) while the edits are handled.
 * The latency and manifest scenarios share one run per parameter set.
 */
import { promises as fs } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileContent } from '../corpus.js';
import {
  isDaemonStarted,
  isReconcileDone,
  startDaemon,
  type DaemonLogLine,
  type RunningDaemon,
} from './daemon.js';
import { startBenchEmulator, type UploadedFile } from './emulator.js';
import { BenchError } from './errors.js';
import { measureManifestWriteCost, type ManifestWriteCost } from './manifest-cost.js';
import { absPath, effectiveWatchBackend, FOLDER_NAME, productEnv, writeProductConfig } from './product.js';
import { createPrng, logUniformSize, shuffled } from './prng.js';
import { readCpuMs, readMemoryMB } from './procfs.js';
import { durableWrites, observeStateWrites, type StateWrites } from './state-writes.js';
import { prepareSyncedTree } from './synced-tree.js';
import { makeWorkDir, removeWorkDir } from './workdir.js';
import { migrateToPostgres, type BenchDatabase } from './pg.js';

export interface EditRunOptions {
  seed: number;
  treeFiles: number;
  edits: number;
  /** Time between the starts of two edits. */
  intervalMs: number;
  /** watch.debounceMs given to the daemon. */
  debounceMs: number;
  /** Keep the state in this PostgreSQL database (URL without password; an empty database) instead of lowdb files. */
  postgres?: BenchDatabase;
}

export interface EditRunResult extends EditRunOptions {
  /** Write-to-visible per edit that became visible, in edit order. */
  latenciesMs: number[];
  /** Edits never seen uploaded before the deadline. */
  missing: number;
  /** Each missing edit's path, what was uploaded under its name, and what the daemon said of it. */
  missingReport: string[];
  /** Edits whose final remote content is not the written content. */
  wrongContent: number;
  /** From the first edit to the last one becoming visible. */
  editWindowMs: number;
  daemonReadyMs: number;
  /** Daemon CPU over its whole life (start-up, reconciliation and watcher crawl included). */
  daemonCpuMs: number | null;
  /** Daemon CPU from the first edit until the last manifest write was awaited. */
  daemonEditCpuMs: number | null;
  daemonPeakRssMB: number | null;
  /** Resident memory sampled once the edits were handled. */
  daemonRssAfterMB: number | null;
  uploads: number;
  deletes: number;
  /** Durable state writes (journal appends + snapshots) from the first edit until 6 s after the last became visible (max write delay is 5 s). */
  manifestWrites: number;
  /** Those writes in detail, with their bytes (seen on disk). */
  stateWrites: StateWrites;
  manifestCost: ManifestWriteCost;
  /** The daemon's watcher backend (the product default). */
  watchBackend: string;
}

const memo = new Map<string, Promise<EditRunResult>>();

/** Runs (or reuses, for identical options within this process) one edits-under-the-daemon run. */
export function runEditsUnderDaemon(
  options: EditRunOptions,
  log: (m: string) => void,
): Promise<EditRunResult> {
  const key = JSON.stringify(options);
  let run = memo.get(key);
  if (!run) {
    run = execute(options, log);
    memo.set(key, run);
    run.catch(() => memo.delete(key));
  } else {
    log('reusing the edits-under-the-daemon run made earlier in this benchmark run');
  }
  return run;
}

interface PendingEdit {
  index: number;
  path: string;
  size: number;
  /** Sizes of every upload under this file's name since the edit began (a partial read differs). */
  uploadedSizes: number[];
  sha256: string;
  writtenAt?: number;
  seenAt?: number;
}

async function execute(o: EditRunOptions, log: (m: string) => void): Promise<EditRunResult> {
  const dir = await makeWorkDir('edits');
  const byName = new Map<string, PendingEdit>();
  const onUpload = (file: UploadedFile, at: number) => {
    const edit = byName.get(file.filename);
    edit?.uploadedSizes.push(file.size_bytes);
    // Only the upload of the finished write counts (same size); an early partial read would differ.
    if (edit && edit.writtenAt !== undefined && edit.seenAt === undefined && file.size_bytes === edit.size)
      edit.seenAt = at;
  };
  const emulator = await startBenchEmulator({ onUpload });
  try {
    log(`writing and seeding ${o.treeFiles} files`);
    const tree = await prepareSyncedTree(dir, { seed: o.seed, files: o.treeFiles, emulator: emulator.core });
    if (o.postgres !== undefined) {
      log('moving the seeded state into PostgreSQL (files-sync state migrate, in process)');
      await migrateToPostgres(o.postgres, { name: FOLDER_NAME, root: tree.root }, tree.stateDir);
    }
    const config = await writeProductConfig(dir, {
      baseUrl: emulator.url,
      folderPath: tree.root,
      stateDir: tree.stateDir,
      concurrency: 4,
      debounceMs: o.debounceMs,
      reconcileIntervalMs: 0,
      ...(o.postgres !== undefined ? { state: { backend: 'postgres' as const, url: o.postgres.url } } : {}),
    });

    const watchBackend = await effectiveWatchBackend(config);
    const daemon = startDaemon(config, {
      ...productEnv(emulator.url),
      ...(o.postgres !== undefined ? { PGPASSWORD: o.postgres.password } : {}),
    });
    let stopped = false;
    try {
      await daemon.waitForLog(isReconcileDone, 20 * 60_000, 'reconciliation done');
      const ready = await daemon.waitForLog(isDaemonStarted, 20 * 60_000, 'daemon started');
      const daemonReadyMs = ready.at - daemon.startedAt;
      log(
        `daemon ready after ${(daemonReadyMs / 1000).toFixed(1)} s; making ${o.edits} edits every ${o.intervalMs} ms`,
      );

      const uploadsBefore = emulator.core.stats().uploadsCreated;
      const deletesBefore = emulator.core.stats().deletes;

      const next = createPrng(o.seed ^ 0x1ed17);
      const targets = shuffled(tree.corpus.files, next).slice(0, o.edits);
      if (targets.length < o.edits)
        throw new BenchError(`only ${targets.length} files to edit`, { wanted: o.edits });
      const edits: PendingEdit[] = [];
      const cpuBefore = await readCpuMs(daemon.pid);
      // With PostgreSQL the state is not in files: nothing to observe there (0 writes).
      const observer = await observeStateWrites(tree.stateDir, FOLDER_NAME);
      const firstAt = performance.now();
      for (let i = 0; i < targets.length; i++) {
        const target = targets[i]!;
        const due = firstAt + i * o.intervalMs;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        let size = logUniformSize(next, 200, 8 * 1024);
        if (size === target.size) size++;
        const content = fileContent(o.seed, target.index, size, i + 1);
        const edit: PendingEdit = {
          index: i,
          path: target.path,
          size,
          uploadedSizes: [],
          sha256: createHash('sha256').update(content).digest('hex'),
        };
        byName.set(path.posix.basename(target.path), edit);
        edits.push(edit);
        await fs.writeFile(absPath(tree.root, target.path), content);
        edit.writtenAt = performance.now();
      }
      const deadline = performance.now() + Math.max(60_000, o.debounceMs * 20);
      while (edits.some((e) => e.seenAt === undefined) && performance.now() < deadline) await sleep(50);
      const lastSeen = Math.max(firstAt, ...edits.map((e) => e.seenAt ?? 0));
      const missing = edits.filter((e) => e.seenAt === undefined);
      log(
        `${edits.length - missing.length}/${edits.length} edits visible; waiting for the last manifest write`,
      );
      const missingReport = describeMissing(missing, daemon);
      for (const line of missingReport) log(line);
      const settle = lastSeen + 6_000 - performance.now();
      if (settle > 0) await sleep(settle);
      const stateWrites = await observer.stop();
      const memory = await readMemoryMB(daemon.pid);
      const cpuAfter = await readCpuMs(daemon.pid);

      const remote = new Set(emulator.core.files().map((f) => f.sha256));
      const stats = emulator.core.stats();
      const run = await daemon.stop();
      stopped = true;
      log('measuring the cost of one manifest write at this size');
      const manifestCost = await measureManifestWriteCost(tree.stateDir, {
        name: FOLDER_NAME,
        root: tree.root,
      });
      return {
        ...o,
        latenciesMs: edits.filter((e) => e.seenAt !== undefined).map((e) => e.seenAt! - e.writtenAt!),
        missing: missing.length,
        missingReport,
        wrongContent: edits.filter((e) => !remote.has(e.sha256)).length,
        editWindowMs: lastSeen - firstAt,
        daemonReadyMs,
        daemonCpuMs: run.cpuMs,
        daemonEditCpuMs: cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null,
        daemonPeakRssMB: run.maxRssMB,
        daemonRssAfterMB: memory?.rssMB ?? null,
        uploads: stats.uploadsCreated - uploadsBefore,
        deletes: stats.deletes - deletesBefore,
        manifestWrites: durableWrites(stateWrites),
        stateWrites,
        manifestCost,
        watchBackend,
      };
    } finally {
      if (!stopped) await daemon.stop();
    }
  } finally {
    await emulator.close();
    await removeWorkDir(dir);
  }
}

/** For a check's detail: the first missing edit's summary (the bench log has the rest), or nothing. */
export function firstMissing(r: EditRunResult): string {
  const first = r.missingReport[0];
  return first === undefined ? '' : `; ${first}`;
}

/** Warnings and errors quoted for a missing edit: enough to see an outage, not a flood. */
const MAX_WARNINGS_QUOTED = 20;
/** The daemon logs its level as pino's label (our formatter). */
const WARNING_LEVELS = new Set(['warn', 'error', 'fatal']);

/**
 * What the benchmark can say of edits never uploaded: each one's path and the uploads under its
 * name, the daemon's log lines naming it, and its warnings and errors, so a rare miss can be traced
 * to the watcher (nothing logged), the engine or the API without running again.
 */
function describeMissing(missing: readonly PendingEdit[], daemon: RunningDaemon): string[] {
  if (missing.length === 0) return [];
  const out: string[] = [];
  const quote = (l: DaemonLogLine): string => {
    const { level, msg, path: p, op, err, reason } = l.fields;
    return `  daemon: ${JSON.stringify({ level, msg, path: p, op, err, reason })}`;
  };
  for (const e of missing) {
    const named = daemon.linesMatching((l) => l.fields.path === e.path || l.fields.from === e.path);
    out.push(
      `edit ${e.index} of ${e.path} (${e.size} bytes) never uploaded at that size; uploads under its name: ${
        e.uploadedSizes.length === 0 ? 'none' : e.uploadedSizes.join(', ')
      }; daemon lines naming it: ${named.length}`,
      ...named.map(quote),
    );
  }
  const warnings = daemon.linesMatching((l) => WARNING_LEVELS.has(String(l.fields.level)));
  out.push(`daemon warnings and errors during the run: ${warnings.length}`);
  for (const l of warnings.slice(-MAX_WARNINGS_QUOTED)) out.push(quote(l));
  return out;
}
