/**
 * Scenario 3: src/local/hash.ts hashFile on one large file vs `openssl dgst -sha256` and
 * `sha256sum` on the same file, each as its own process, page cache warm, median of repeats.
 */
import path from 'node:path';
import { writeLargeFile } from '../corpus.js';
import { assertExitOk, REPO_ROOT, runNode, runProgram, type ChildRun } from '../lib/child.js';
import { hashFile } from '../../src/local/hash.js';
import { median, ratioOf, seconds, type Measurement, type Scenario } from '../lib/results.js';

const OURS = 'files-sync hashFile';
const OURS_SCRIPT = path.join(REPO_ROOT, 'bench', 'contenders', 'hash-file.ts');
const GIB = 1024 ** 3;

interface Contender {
  name: string;
  run(file: string): Promise<ChildRun>;
  digest(run: ChildRun): string | undefined;
}

const hex = (text: string): string | undefined => /\b[0-9a-f]{64}\b/.exec(text)?.[0];

const CONTENDERS: Contender[] = [
  {
    name: OURS,
    run: (file) => runNode(OURS_SCRIPT, [file]),
    digest: (r) => (JSON.parse(r.stdout) as { sha256: string }).sha256,
  },
  {
    name: 'openssl dgst -sha256',
    run: (file) => runProgram('openssl', ['dgst', '-sha256', file]),
    digest: (r) => hex(r.stdout),
  },
  { name: 'sha256sum', run: (file) => runProgram('sha256sum', [file]), digest: (r) => hex(r.stdout) },
];

export const hashingScenario: Scenario = {
  id: 'hashing',
  title: 'Hashing one large file: hashFile vs openssl vs sha256sum',
  async run(ctx) {
    const bytes = ctx.quick ? 100 * 1024 * 1024 : GIB;
    const repeats = 3;
    const file = path.join(ctx.workDir, 'large.bin');
    ctx.log(`writing a ${(bytes / 1024 ** 2).toFixed(0)} MiB file`);
    await writeLargeFile(file, bytes, ctx.seed);
    // Warm the page cache so every contender reads from memory, and get an in-process figure.
    await hashFile(file);
    const inProcessStarted = performance.now();
    const inProcess = await hashFile(file);
    const inProcessMs = performance.now() - inProcessStarted;

    const runs = new Map<string, ChildRun[]>(CONTENDERS.map((c) => [c.name, []]));
    const digests = new Map<string, Set<string>>(CONTENDERS.map((c) => [c.name, new Set()]));
    for (let r = 0; r < repeats; r++) {
      // Interleaved, so a burst of load on a shared machine hits every contender alike.
      for (const c of CONTENDERS) {
        ctx.log(`run ${r + 1}/${repeats}: ${c.name}`);
        const run = await c.run(file);
        assertExitOk(run, c.name);
        runs.get(c.name)!.push(run);
        digests.get(c.name)!.add(c.digest(run) ?? 'unparsed');
      }
    }

    const measurements: Measurement[] = CONTENDERS.map((c) => {
      const rs = runs.get(c.name)!;
      const wallMs = median(rs.map((r) => r.wallMs));
      const cpu = rs.map((r) => r.cpuMs).filter((v): v is number => v !== null);
      const rss = rs.map((r) => r.maxRssMB).filter((v): v is number => v !== null);
      const metrics: Record<string, number | null> = {
        wall_s: seconds(wallMs),
        gib_per_s: bytes / GIB / (wallMs / 1000),
        cpu_s: cpu.length ? seconds(median(cpu)) : null,
        peak_rss_mb: rss.length ? median(rss) : null,
      };
      // hash_s compares the hashing itself: inside the child for ours (node + tsx start-up is not
      // hashing), spawn-to-exit for the C tools (their start-up is a millisecond or two).
      const hashMs =
        c.name === OURS ? median(rs.map((r) => (JSON.parse(r.stdout) as { workMs: number }).workMs)) : wallMs;
      metrics.hash_s = seconds(hashMs);
      metrics.hash_gib_per_s = bytes / GIB / (hashMs / 1000);
      return { contender: c.name, role: c.name === OURS ? 'ours' : 'baseline', metrics };
    });
    measurements.push({
      contender: 'hashFile in the benchmark process',
      role: 'reference',
      metrics: { hash_s: seconds(inProcessMs), hash_gib_per_s: bytes / GIB / (inProcessMs / 1000) },
      note: 'no process start-up; one run after a warm-up',
    });

    const all = new Set([...digests.values()].flatMap((s) => [...s]));
    all.add(inProcess.sha256);
    const ratios = CONTENDERS.filter((c) => c.name !== OURS).flatMap((c) => [
      ratioOf(measurements, OURS, c.name, 'hash_s', 'lower'),
      ratioOf(measurements, OURS, c.name, 'wall_s', 'lower'),
      ratioOf(measurements, OURS, c.name, 'cpu_s', 'lower'),
    ]);
    return {
      sizes: { file_bytes: bytes, repeats },
      measurements,
      ratios,
      checks: [
        {
          name: 'every contender computed the same SHA-256',
          ok: all.size === 1,
          detail: [...all].join(', '),
        },
      ],
      notes: [
        'wall_s is spawn-to-exit (median of the repeats), so ours includes node + tsx start-up; hash_s is the hashing alone: the time inside hashFile as our child measured it, and wall_s for openssl and sha256sum (whose start-up is negligible).',
        'The file is read from a warm page cache by every contender.',
      ],
    };
  },
};
