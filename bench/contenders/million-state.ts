/**
 * The state of a very large folder, without its files: `build --state DIR --entries N` records N
 * synthetic entries through Manifest.set and one snapshot; `measure --state DIR` (a fresh
 * process, so the build's garbage is not in its memory) opens that state the way the daemon does
 * and times what a pass and a change cost at this size, printing one JSON object on stdout.
 */
import path from 'node:path';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { Manifest, openManifest } from '../../src/state/manifest.js';
import { planSync, type Plan } from '../../src/sync/plan.js';
import type { LocalEntry } from '../../src/types.js';
import { entryFor, entryPath } from '../lib/synthetic-entries.js';

// gc() makes the memory figures the live set, not whatever the collector had not yet reclaimed.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const FOLDER = 'million';
/** No background writes while building or measuring: every write below is one we time. */
const QUIET = { writeDelayMs: 1e9, maxWriteDelayMs: 1e9, snapshotIdleMs: 1e9 };

function arg(name: string): string {
  const i = process.argv.indexOf(name);
  const value = i === -1 ? undefined : process.argv[i + 1];
  if (value === undefined) throw new Error(`missing ${name}`);
  return value;
}

function memoryMB(): { heap_used_mb: number; rss_mb: number } {
  gc();
  const m = process.memoryUsage();
  return { heap_used_mb: m.heapUsed / 1024 ** 2, rss_mb: m.rss / 1024 ** 2 };
}

async function timed<T>(fn: () => T | Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const value = await fn();
  return [value, performance.now() - t];
}

/** User + system CPU of this process since `since`, in ms (the machine may be busy: wall time lies). */
function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function build(stateDir: string, entries: number): Promise<void> {
  const manifest = await Manifest.open(stateDir, { name: FOLDER, root: path.join(stateDir, 'tree') }, QUIET);
  for (let k = 0; k < entries; k++) manifest.set(entryPath(k), entryFor(k));
  const [, snapshotMs] = await timed(() => manifest.snapshot());
  await manifest.close();
  process.stdout.write(`${JSON.stringify({ entries, build_snapshot_ms: snapshotMs })}\n`);
}

/** The planner's entry view as a full pass builds it (src/sync/pass.ts: a Map copy of the entries). */
function planFull(manifest: Manifest, local: ReadonlyMap<string, LocalEntry>): Plan {
  return planSync({
    local,
    manifest: {
      entries: new Map(manifest.entries()),
      pendingUploads: manifest.pendingUploads(),
      pendingDeletes: manifest.pendingDeletes(),
      suspects: manifest.suspects(),
      unsettled: manifest.unsettled(),
    },
  });
}

/** Median of 3 full plans; only counts leave, so each plan is garbage once timed. */
async function timePlans(
  manifest: Manifest,
  local: ReadonlyMap<string, LocalEntry>,
): Promise<{ ms: number; cpuMs: number; copyMs: number; ops: number; unchanged: number; replaces: number }> {
  const times: number[] = [];
  const cpu: number[] = [];
  const copies: number[] = [];
  let counts = { ops: 0, unchanged: 0, replaces: 0 };
  for (let i = 0; i < 3; i++) {
    // The entry copy a full pass makes, alone: how much of a plan is the copy.
    copies.push((await timed(() => new Map(manifest.entries()).size))[1]);
    const started = process.cpuUsage();
    const [plan, ms] = await timed(() => planFull(manifest, local));
    cpu.push(cpuMs(started));
    times.push(ms);
    counts = {
      ops: plan.ops.length,
      unchanged: plan.unchanged,
      replaces: plan.ops.filter((o) => o.kind === 'replace').length,
    };
  }
  return { ms: median(times), cpuMs: median(cpu), copyMs: median(copies), ...counts };
}

async function measure(stateDir: string): Promise<void> {
  const out: Record<string, number> = {};
  const base = memoryMB();
  out.base_heap_mb = base.heap_used_mb;
  out.base_rss_mb = base.rss_mb;

  const openCpu = process.cpuUsage();
  const [manifest, openMs] = await timed(() =>
    Manifest.open(stateDir, { name: FOLDER, root: path.join(stateDir, 'tree') }, QUIET),
  );
  out.open_ms = openMs;
  out.open_cpu_ms = cpuMs(openCpu);
  out.entries = manifest.size;
  const opened = memoryMB();
  out.open_heap_mb = opened.heap_used_mb;
  out.open_rss_mb = opened.rss_mb;

  // What a full scan hands the planner: one LocalEntry per file, stats equal to the manifest's.
  const local = new Map<string, LocalEntry>();
  for (const [p, e] of manifest.entries())
    local.set(p, { path: p, size: e.size, mtimeMs: e.mtimeMs, ino: e.ino });
  const scanned = memoryMB();
  out.local_map_heap_mb = scanned.heap_used_mb - opened.heap_used_mb;

  const noop = await timePlans(manifest, local);
  out.plan_noop_ms = noop.ms;
  out.plan_noop_cpu_ms = noop.cpuMs;
  out.plan_noop_ops = noop.ops;
  out.plan_noop_unchanged = noop.unchanged;
  out.copy_entries_ms = noop.copyMs;

  // 1% of the files changed and hashed (a pass hashes before it plans: the planner gets the new digest).
  const changed = Math.max(1, Math.floor(manifest.size / 100));
  const step = Math.floor(manifest.size / changed);
  let k = 0;
  for (const [p, e] of local) {
    if (k++ % step !== 0) continue;
    local.set(p, { ...e, size: e.size + 1, mtimeMs: e.mtimeMs + 1, sha256: 'f'.repeat(64) });
  }
  const change = await timePlans(manifest, local);
  out.changed = changed;
  out.plan_change_ms = change.ms;
  out.plan_change_cpu_ms = change.cpuMs;
  out.plan_change_ops = change.ops;
  out.plan_change_replaces = change.replaces;
  const planned = memoryMB();
  out.after_plan_heap_mb = planned.heap_used_mb;
  out.after_plan_rss_mb = planned.rss_mb;
  local.clear();

  // A one-path lookup the way `files-sync id` reads the state: only the shard holding the path.
  const probe = entryPath(Math.floor(manifest.size / 2));
  const lookups: number[] = [];
  let found = 0;
  for (let i = 0; i < 5; i++) {
    const [reader, ms] = await timed(async () =>
      (await openManifest(stateDir, FOLDER, { onlyPath: probe })).get(probe),
    );
    lookups.push(ms);
    if (reader?.fileId === manifest.get(probe)?.fileId) found++;
  }
  out.lookup_ms = median(lookups);
  out.lookup_found = found;

  // One change made durable: one journal line; then the snapshot that folds it (one shard + head).
  const appends: number[] = [];
  const snapshots: number[] = [];
  const entry = manifest.get(probe)!;
  for (let i = 0; i < 5; i++) {
    manifest.set(probe, { ...entry, mtimeMs: entry.mtimeMs + i + 1 });
    appends.push((await timed(() => manifest.flush()))[1]);
    manifest.set(probe, { ...entry, mtimeMs: entry.mtimeMs + i + 10 });
    snapshots.push((await timed(() => manifest.snapshot()))[1]);
  }
  out.append_ms = median(appends);
  out.snapshot_ms = median(snapshots);
  manifest.set(probe, entry);
  out.close_ms = (await timed(() => manifest.close()))[1];
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

const mode = process.argv[2];
if (mode === 'build') await build(arg('--state'), Number(arg('--entries')));
else if (mode === 'measure') await measure(arg('--state'));
else throw new Error(`usage: million-state.ts build|measure --state DIR [--entries N]`);
