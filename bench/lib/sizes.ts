/** Size overrides from the environment (BENCH_FILES etc.), so one scenario can be iterated on at a smaller size. */
import { BenchError } from './errors.js';

/**
 * The integer in `BENCH_<name>` when set, else `fallback`. Lets a developer run e.g.
 * `BENCH_FILES=2000 npm run bench -- initial-sync` while iterating; the report states the sizes used.
 */
export function sizeFromEnv(name: string, fallback: number): number {
  const raw = process.env[`BENCH_${name}`];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    throw new BenchError(`BENCH_${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return n;
}
