/**
 * Preloaded with `node --import` into every measured child (our CLI and the baselines alike), so
 * CPU and peak RSS come from the process itself rather than from a racy read of /proc at exit.
 * The CLI does not know BENCH_USAGE_FILE; without it this module does nothing. Plain JavaScript,
 * so a child can run without tsx (the installed CLI from dist/, as users run it).
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import process from 'node:process';

const target = process.env.BENCH_USAGE_FILE;
if (target) {
  // The child's own clock starts here: everything before (node start-up, tsx) shows as wall minus this.
  const loadedAt = performance.now();
  process.once('exit', (code) => {
    const cpu = process.cpuUsage();
    const usage = process.resourceUsage();
    const report = {
      pid: process.pid,
      exitCode: code,
      userMs: cpu.user / 1000,
      systemMs: cpu.system / 1000,
      // resourceUsage().maxRSS is in kilobytes.
      maxRssKB: usage.maxRSS,
      probeLoadedAtMs: loadedAt,
      uptimeMs: performance.now(),
    };
    try {
      writeFileSync(target, `${JSON.stringify(report)}\n`);
    } catch {
      // A benchmark that cannot record usage reports it as missing; the child's exit code stays its own.
    }
  });
}
