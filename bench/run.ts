/**
 * `npm run bench [-- [--quick] [--seed N] [scenario ...]]`: runs the benchmark scenarios against
 * the emulator on loopback and writes bench/results/. See bench/README.md.
 */
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './lib/child.js';
import { machineInfo, writeResults, type BenchRun } from './lib/report.js';
import { round, type Scenario, type ScenarioResult } from './lib/results.js';
import { makeWorkDir, removeWorkDir } from './lib/workdir.js';
import { initialSyncScenario } from './scenarios/initial-sync.js';
import { noopRestartScenario } from './scenarios/noop-restart.js';
import { hashingScenario } from './scenarios/hashing.js';
import { latencyScenario } from './scenarios/latency.js';
import { watchMemoryScenario } from './scenarios/watch-memory.js';
import { manifestScenario } from './scenarios/manifest.js';
import { serveScenario } from './scenarios/serve.js';
import { millionScenario } from './scenarios/million.js';
import { postgresScenario } from './scenarios/postgres.js';

/** Every scenario, in the order a full run takes them (latency before manifest: they share a daemon run). */
export const SCENARIOS: readonly Scenario[] = [
  initialSyncScenario,
  noopRestartScenario,
  hashingScenario,
  latencyScenario,
  watchMemoryScenario,
  manifestScenario,
  serveScenario,
  millionScenario,
  postgresScenario,
];

const ALIASES: Record<string, string> = {
  sync: 'initial-sync',
  noop: 'noop-restart',
  hash: 'hashing',
  watch: 'watch-memory',
  '1m': 'million',
  pg: 'postgres',
};

const USAGE = `usage: npm run bench -- [--quick] [--seed N] [scenario ...]
scenarios: ${SCENARIOS.map((s) => s.id).join(', ')} (aliases: ${Object.entries(ALIASES)
  .map(([a, s]) => `${a}=${s}`)
  .join(', ')})`;

interface CliArgs {
  quick: boolean;
  seed: number;
  ids: string[];
}

function parseCli(argv: readonly string[]): CliArgs {
  const args: CliArgs = { quick: false, seed: 20260514, ids: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') args.quick = true;
    else if (a === '--seed') args.seed = Number(argv[++i]);
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (a.startsWith('-')) {
      process.stderr.write(`unknown option ${a}\n${USAGE}\n`);
      process.exit(64);
    } else {
      const id = ALIASES[a] ?? a;
      if (!SCENARIOS.some((s) => s.id === id)) {
        process.stderr.write(`unknown scenario ${a}\n${USAGE}\n`);
        process.exit(64);
      }
      args.ids.push(id);
    }
  }
  if (!Number.isInteger(args.seed)) {
    process.stderr.write(`--seed needs an integer\n${USAGE}\n`);
    process.exit(64);
  }
  return args;
}

const runStarted = performance.now();
function log(message: string): void {
  process.stderr.write(
    `[bench ${((performance.now() - runStarted) / 1000).toFixed(1).padStart(6)} s] ${message}\n`,
  );
}

async function main(): Promise<number> {
  const args = parseCli(process.argv.slice(2));
  const selected = args.ids.length > 0 ? SCENARIOS.filter((s) => args.ids.includes(s.id)) : [...SCENARIOS];
  const startedAt = new Date();
  const machine = await machineInfo();
  log(
    `${args.quick ? 'quick' : 'full'} run: ${selected.map((s) => s.id).join(', ')} on ${machine.nproc} CPUs, node ${machine.node}`,
  );

  const results: ScenarioResult[] = [];
  const failures: BenchRun['failures'] = [];
  let currentDir: string | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: removing ${currentDir ?? 'nothing'} and stopping`);
    const done = currentDir ? removeWorkDir(currentDir) : Promise.resolve();
    void done.finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  for (const scenario of selected) {
    const workDir = await makeWorkDir(scenario.id);
    currentDir = workDir;
    const started = performance.now();
    log(`== ${scenario.id}: ${scenario.title}`);
    try {
      const found = await scenario.run({
        quick: args.quick,
        seed: args.seed,
        workDir,
        log: (m) => log(`${scenario.id}: ${m}`),
      });
      const result: ScenarioResult = {
        id: scenario.id,
        title: scenario.title,
        ...found,
        durationMs: performance.now() - started,
        loadAvgAfter: os.loadavg().map(round),
      };
      results.push(result);
      const failed = result.checks.filter((c) => !c.ok);
      log(
        `== ${scenario.id} done in ${(result.durationMs / 1000).toFixed(1)} s${failed.length ? `; FAILED checks: ${failed.map((c) => c.name).join('; ')}` : ''}`,
      );
    } catch (err) {
      const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      failures.push({ id: scenario.id, error: message });
      log(`== ${scenario.id} FAILED: ${message}`);
    } finally {
      await removeWorkDir(workDir);
      currentDir = undefined;
    }
  }

  const finishedAt = new Date();
  const run: BenchRun = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationS: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    mode: args.quick ? 'quick' : 'full',
    seed: args.seed,
    requested: selected.map((s) => s.id),
    machine,
    scenarios: results,
    failures,
  };
  const written = await writeResults(run, path.join(REPO_ROOT, 'bench', 'results'));
  log(`wrote ${written.map((p) => path.relative(REPO_ROOT, p)).join(', ')}`);
  const checksFailed = results.some((r) => r.checks.some((c) => !c.ok));
  return failures.length > 0 || checksFailed ? 1 : 0;
}

process.exitCode = await main();
