/** The shape every scenario reports, and the small arithmetic used to fill it. */

/** One contender's figures; metric names carry their unit (wall_s, files_per_s, peak_rss_mb, ...). */
export interface Measurement {
  contender: string;
  role: 'ours' | 'baseline' | 'reference';
  metrics: Record<string, number | null>;
  /** Free text (how it was run, what was counted). */
  note?: string;
}

/** ours / baseline of one metric; `better` says which direction wins. */
export interface Ratio {
  metric: string;
  ours: string;
  baseline: string;
  value: number | null;
  better: 'lower' | 'higher';
}

/** An expectation the scenario checked (zero uploads on a no-op, all files arrived, ...). */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** Everything one scenario found. */
export interface ScenarioResult {
  id: string;
  title: string;
  /** The sizes actually used (files, bytes, edits, ...). */
  sizes: Record<string, number | string>;
  measurements: Measurement[];
  ratios: Ratio[];
  checks: Check[];
  notes: string[];
  durationMs: number;
  /** os.loadavg() when the scenario ended: other work on the machine skews every figure. */
  loadAvgAfter: number[];
}

/** A scenario: an id (CLI name), a title, and the function that runs it. */
export interface Scenario {
  id: string;
  title: string;
  run(ctx: ScenarioContext): Promise<Omit<ScenarioResult, 'id' | 'title' | 'durationMs' | 'loadAvgAfter'>>;
}

/** What a scenario gets from the runner. */
export interface ScenarioContext {
  quick: boolean;
  seed: number;
  /** A fresh directory under os.tmpdir(), removed after the scenario. */
  workDir: string;
  log(message: string): void;
}

/** The median of a non-empty list (mean of the middle two for even lengths). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100) of a non-empty list. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** ours / baseline for a metric present in both measurements; null when either is missing or zero. */
export function ratioOf(
  measurements: readonly Measurement[],
  ours: string,
  baseline: string,
  metric: string,
  better: 'lower' | 'higher',
): Ratio {
  const a = measurements.find((m) => m.contender === ours)?.metrics[metric];
  const b = measurements.find((m) => m.contender === baseline)?.metrics[metric];
  const value = a === undefined || a === null || b === undefined || b === null || b === 0 ? null : a / b;
  return { metric, ours, baseline, value, better };
}

/** Rounds for reports: 3 significant digits, no exponent for ordinary magnitudes. */
export function round(n: number): number {
  if (!Number.isFinite(n) || n === 0) return n;
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(n))));
  return Number(n.toFixed(Math.min(digits, 6)));
}

/** Milliseconds to seconds. */
export function seconds(ms: number | null | undefined): number | null {
  return ms === null || ms === undefined ? null : ms / 1000;
}
