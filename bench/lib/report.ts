/** Turns a benchmark run into bench/results/*.json and a Markdown page a person can read. */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './child.js';
import { inotifyWatchLimit } from './procfs.js';
import { round, type ScenarioResult } from './results.js';

/** The machine a run measured. */
export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  node: string;
  platform: string;
  kernel: string;
  totalMemGB: number;
  loadAvgAtStart: number[];
  inotifyMaxUserWatches: number | null;
  gitCommit: string;
}

/** A whole run: what ran, where, and what each scenario found. */
export interface BenchRun {
  startedAt: string;
  finishedAt: string;
  durationS: number;
  mode: 'full' | 'quick';
  seed: number;
  requested: string[];
  machine: MachineInfo;
  scenarios: ScenarioResult[];
  failures: Array<{ id: string; error: string }>;
}

/** Collects machine facts for the report header. */
export async function machineInfo(): Promise<MachineInfo> {
  let gitCommit = 'unknown';
  try {
    gitCommit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    }).trim();
  } catch {
    // Not a git checkout: the report simply says so.
  }
  return {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    kernel: os.release(),
    totalMemGB: round(os.totalmem() / 1024 ** 3),
    loadAvgAtStart: os.loadavg().map(round),
    inotifyMaxUserWatches: await inotifyWatchLimit(),
    gitCommit,
  };
}

function fmt(v: number | string | null | undefined): string {
  if (v === null || v === undefined) return 'n/a';
  if (typeof v === 'string') return v;
  return String(round(v));
}

function ratioText(value: number | null, better: 'lower' | 'higher'): string {
  if (value === null) return 'n/a';
  const r = round(value);
  const wins = better === 'lower' ? value < 1 : value > 1;
  const factor = better === 'lower' ? 1 / value : value;
  if (Math.abs(value - 1) < 0.05) return `${r} (about even)`;
  return wins ? `${r} (ours ${round(factor)}x better)` : `${r} (ours ${round(1 / factor)}x worse)`;
}

function scenarioMarkdown(s: ScenarioResult): string {
  const lines: string[] = [`## ${s.title} (\`${s.id}\`)`, ''];
  lines.push(
    `Sizes: ${Object.entries(s.sizes)
      .map(([k, v]) => `${k}=${fmt(v)}`)
      .join(', ')}. Took ${round(s.durationMs / 1000)} s; load average after: ${s.loadAvgAfter.join(' / ')}.`,
    '',
  );
  const metricNames = [...new Set(s.measurements.flatMap((m) => Object.keys(m.metrics)))];
  if (s.measurements.length > 0) {
    lines.push(`| contender | role | ${metricNames.join(' | ')} |`);
    lines.push(`|---|---|${metricNames.map(() => '---:').join('|')}|`);
    for (const m of s.measurements) {
      lines.push(`| ${m.contender} | ${m.role} | ${metricNames.map((k) => fmt(m.metrics[k])).join(' | ')} |`);
    }
    lines.push('');
    for (const m of s.measurements.filter((x) => x.note)) lines.push(`- ${m.contender}: ${m.note}`);
    if (s.measurements.some((x) => x.note)) lines.push('');
  }
  if (s.ratios.length > 0) {
    lines.push('| ratio (ours / baseline) | metric | value |', '|---|---|---|');
    for (const r of s.ratios)
      lines.push(
        `| ${r.ours} / ${r.baseline} | ${r.metric} (${r.better} is better) | ${ratioText(r.value, r.better)} |`,
      );
    lines.push('');
  }
  if (s.checks.length > 0) {
    for (const c of s.checks) lines.push(`- ${c.ok ? 'PASS' : 'FAIL'}: ${c.name} (${c.detail})`);
    lines.push('');
  }
  for (const n of s.notes) lines.push(`> ${n}`, '>');
  if (s.notes.length > 0) lines.pop();
  lines.push('');
  return lines.join('\n');
}

/** The Markdown report of a run. */
export function renderMarkdown(run: BenchRun): string {
  const m = run.machine;
  const out: string[] = [
    `# files-sync benchmarks (${run.mode})`,
    '',
    `Run ${run.startedAt} -> ${run.finishedAt} (${round(run.durationS)} s), seed ${run.seed}, commit ${m.gitCommit}.`,
    `Machine: ${m.nproc} CPUs (${m.cpuModel}), ${m.totalMemGB} GB RAM, ${m.platform}, kernel ${m.kernel}, node ${m.node}, ` +
      `load average at start ${m.loadAvgAtStart.join(' / ')}, fs.inotify.max_user_watches ${fmt(m.inotifyMaxUserWatches)}.`,
    '',
    'Every contender runs against the emulator on 127.0.0.1 in the same run. A ratio is ours divided by the baseline for that metric; see bench/README.md for how to read it.',
    '',
  ];
  if (run.failures.length > 0) {
    out.push('## Scenarios that failed', '');
    for (const f of run.failures) out.push(`- \`${f.id}\`: ${f.error}`);
    out.push('');
  }
  for (const s of run.scenarios) out.push(scenarioMarkdown(s));
  return `${out.join('\n').trimEnd()}\n`;
}

/** Writes latest(-quick).{md,json} and a dated copy of each into `dir`; returns the paths written. */
export async function writeResults(run: BenchRun, dir: string): Promise<string[]> {
  await fs.mkdir(dir, { recursive: true });
  const base = run.mode === 'quick' ? 'latest-quick' : 'latest';
  const stamp = run.startedAt.replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
  const dated = `${stamp}${run.mode === 'quick' ? '-quick' : ''}`;
  const json = `${JSON.stringify(run, null, 2)}\n`;
  const md = renderMarkdown(run);
  const written: string[] = [];
  for (const name of [base, dated]) {
    await fs.writeFile(path.join(dir, `${name}.json`), json);
    await fs.writeFile(path.join(dir, `${name}.md`), md);
    written.push(path.join(dir, `${name}.md`), path.join(dir, `${name}.json`));
  }
  return written;
}
