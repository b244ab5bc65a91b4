/**
 * Scenario 8: the ceiling. A synthetic state of 1,000,000 entries (no files on disk) is built by
 * one child through the Manifest API, then a fresh child opens it as the daemon does and measures
 * open time and memory, a no-op plan and a 1% change plan (the planner a full pass runs), a
 * one-path lookup that reads one shard, one journal append and one snapshot.
 */
import path from 'node:path';
import { assertExitOk, REPO_ROOT, runNode, type ChildRun } from '../lib/child.js';
import { round, seconds, type Check, type Measurement, type Scenario } from '../lib/results.js';

const SCRIPT = path.join(REPO_ROOT, 'bench', 'contenders', 'million-state.ts');
/** Room for a million entries and a planner pass over them; the figures say what was used. */
const CHILD_ENV = { NODE_OPTIONS: '--max-old-space-size=8192' };

type Figures = Record<string, number>;

function parseLast(run: ChildRun, what: string): Figures {
  assertExitOk(run, what);
  const line = run.stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as Figures;
}

export const millionScenario: Scenario = {
  id: 'million',
  title: 'A million-entry state: load, plan, look up and write, with memory',
  async run(ctx) {
    const entries = ctx.quick ? 100_000 : 1_000_000;
    const stateDir = path.join(ctx.workDir, 'state');
    ctx.log(`building ${entries} synthetic entries (Manifest.set + one snapshot)`);
    const builder = await runNode(SCRIPT, ['build', '--state', stateDir, '--entries', String(entries)], {
      env: { ...process.env, ...CHILD_ENV },
      timeoutMs: 30 * 60_000,
    });
    const built = parseLast(builder, 'million-state build');
    ctx.log(`built in ${(builder.wallMs / 1000).toFixed(1)} s; measuring in a fresh process`);
    const run = await runNode(SCRIPT, ['measure', '--state', stateDir], {
      env: { ...process.env, ...CHILD_ENV },
      timeoutMs: 30 * 60_000,
    });
    const f = parseLast(run, 'million-state measure');
    const perEntryKB = ((f.open_heap_mb! - f.base_heap_mb!) * 1024) / f.entries!;
    const measurements: Measurement[] = [
      {
        contender: `daemon state, ${entries} entries`,
        role: 'ours',
        metrics: {
          open_s: seconds(f.open_ms),
          open_cpu_s: seconds(f.open_cpu_ms),
          open_heap_mb: f.open_heap_mb!,
          open_rss_mb: f.open_rss_mb!,
          heap_kb_per_entry: perEntryKB,
          plan_noop_s: seconds(f.plan_noop_ms),
          plan_noop_cpu_s: seconds(f.plan_noop_cpu_ms),
          copy_entries_s: seconds(f.copy_entries_ms),
          plan_1pct_s: seconds(f.plan_change_ms),
          plan_1pct_cpu_s: seconds(f.plan_change_cpu_ms),
          after_plan_heap_mb: f.after_plan_heap_mb!,
          after_plan_rss_mb: f.after_plan_rss_mb!,
          peak_rss_mb: run.maxRssMB,
          lookup_ms: f.lookup_ms!,
          append_ms: f.append_ms!,
          snapshot_ms: f.snapshot_ms!,
          close_ms: f.close_ms!,
        },
        note: 'Manifest.open as the daemon opens it; plans are planSync over a Map copy of the entries (as a full pass builds it) and a local map with the same stats, medians of 3; lookup = openManifest(onlyPath), the read `files-sync id` does, median of 5; append = one changed entry + flush() (one journal line, fdatasync), snapshot = one changed entry + snapshot() (one shard + head), medians of 5. heap figures are after a forced GC.',
      },
      {
        contender: 'node process, empty',
        role: 'reference',
        metrics: { open_heap_mb: f.base_heap_mb!, open_rss_mb: f.base_rss_mb! },
        note: 'the same measuring child before it opened anything (node + tsx + the product modules loaded)',
      },
      {
        contender: 'building the state',
        role: 'reference',
        metrics: {
          build_s: seconds(builder.wallMs),
          build_snapshot_s: seconds(built.build_snapshot_ms),
          peak_rss_mb: builder.maxRssMB,
        },
        note: `one child: Manifest.open of an empty state, ${entries} x Manifest.set, one snapshot (every shard written), close; not a product path, shown so the set-up cost is known`,
      },
    ];
    const checks: Check[] = [
      {
        name: `the state holds all ${entries} entries after reopening`,
        ok: f.entries === entries,
        detail: `${f.entries} entries`,
      },
      {
        name: 'a no-op plans no operation and finds every entry unchanged',
        ok: f.plan_noop_ops === 0 && f.plan_noop_unchanged === entries,
        detail: `${f.plan_noop_ops} ops, ${f.plan_noop_unchanged} unchanged`,
      },
      {
        name: 'a 1% change plans exactly one replace per changed file',
        ok: f.plan_change_ops === f.changed && f.plan_change_replaces === f.changed,
        detail: `${f.plan_change_replaces} replaces, ${f.plan_change_ops} ops for ${f.changed} changed files`,
      },
      {
        name: 'the one-shard lookup finds the entry',
        ok: f.lookup_found === 5,
        detail: `${f.lookup_found} of 5 lookups matched the writer's entry`,
      },
    ];
    return {
      sizes: { entries, changed: f.changed! },
      measurements,
      ratios: [],
      checks,
      notes: [
        'Synthetic entries (paths t<k>/d<j>/f<i>.txt, 100 a directory): no file exists on disk, so no scan or hash is timed; a real no-op restart adds the stat walk (see noop-restart) to plan_noop_s.',
        `Heap per entry in the opened state: ${round(perEntryKB)} KB (everything the writer keeps: entries by shard and the file-ID index).`,
        "copy_entries_s is `new Map(manifest.entries())` alone, the copy a full pass makes before it plans (part of plan_*_s). *_cpu_s are this process's CPU over the same span: on a busy machine they say more than wall time.",
        'A full pass copies the entries into a Map before planning (src/sync/pass.ts), so after_plan_* and peak_rss_mb include that copy, the local map and the plan at their largest; the heap drops back after the pass.',
      ],
    };
  },
};
