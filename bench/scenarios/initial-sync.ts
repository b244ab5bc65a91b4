/**
 * Scenario 1: initial sync of a generated corpus (mixed sizes 1 KB-2 MB) by `files-sync sync`
 * vs the official SDK uploading one file at a time and with our concurrency. Each contender gets
 * a fresh emulator; every upload's SHA-256 is checked against the corpus.
 */
import path from 'node:path';
import { writeCorpus } from '../corpus.js';
import { assertExitOk, REPO_ROOT, runNode, type ChildRun } from '../lib/child.js';
import { startBenchEmulator } from '../lib/emulator.js';
import { compileScript } from '../lib/compile.js';
import {
  buildDist,
  CLI_ENTRY,
  INSTALLED_CLI,
  productEnv,
  startupReference,
  writeProductConfig,
} from '../lib/product.js';
import { ratioOf, seconds, type Check, type Measurement, type Scenario } from '../lib/results.js';
import { sizeFromEnv } from '../lib/sizes.js';
import { promises as fs } from 'node:fs';

const OURS = 'files-sync sync';
const OURS_FROM_SOURCE = 'files-sync sync, from source (tsx)';
const SDK_SERIAL = 'SDK, one file at a time';
const SDK_CONCURRENT = 'SDK, same concurrency';
const SDK_SCRIPT = path.join(REPO_ROOT, 'bench', 'baselines', 'sdk-upload.ts');
/** api.concurrency given to files-sync, and so to the concurrent SDK baseline. */
export const SYNC_CONCURRENCY = 4;

interface SyncReport {
  uploaded: number;
  hashed: number;
  failed: unknown[];
  status: string;
}

export const initialSyncScenario: Scenario = {
  id: 'initial-sync',
  title: 'Initial sync of a fresh corpus: files-sync vs the official SDK',
  async run(ctx) {
    const files = sizeFromEnv('FILES', ctx.quick ? 500 : 5000);
    const corpusRoot = path.join(ctx.workDir, 'corpus');
    ctx.log(`writing ${files} files (1 KB-2 MB)`);
    const corpus = await writeCorpus(
      corpusRoot,
      { seed: ctx.seed, files, minSize: 1024, maxSize: 2 * 1024 * 1024, filesPerDir: 50 },
      { hash: true },
    );
    const expected = [...corpus.sha256.values()].sort();
    const mb = corpus.bytes / 1024 ** 2;

    ctx.log('building dist/ and the SDK baseline (both run by plain node)');
    await buildDist();
    const jsDir = await fs.mkdtemp(path.join(ctx.workDir, 'js-'));
    const sdkScript = await compileScript(SDK_SCRIPT, jsDir, { bundlePackages: true });
    const noop = await compileScript(path.join(REPO_ROOT, 'bench', 'contenders', 'noop.ts'), jsDir);

    const measurements: Measurement[] = [];
    const checks: Check[] = [];
    const record = (
      name: string,
      role: Measurement['role'],
      run: ChildRun,
      extra: Record<string, number | null>,
      note?: string,
    ) => {
      const m: Measurement = {
        contender: name,
        role,
        metrics: {
          wall_s: seconds(run.wallMs),
          files_per_s: files / (run.wallMs / 1000),
          mb_per_s: mb / (run.wallMs / 1000),
          cpu_s: seconds(run.cpuMs),
          peak_rss_mb: run.maxRssMB,
          ...extra,
        },
      };
      if (note) m.note = note;
      measurements.push(m);
    };

    const syncRun = async (url: string, dir: string, installed: boolean): Promise<ChildRun> => {
      const config = await writeProductConfig(dir, {
        baseUrl: url,
        folderPath: corpusRoot,
        stateDir: path.join(dir, 'state'),
        concurrency: SYNC_CONCURRENCY,
        watch: false,
      });
      return runNode(installed ? INSTALLED_CLI : CLI_ENTRY, ['sync', '-c', config, '--json'], {
        env: productEnv(url),
        tsx: !installed,
      });
    };

    const contenders: Array<{
      name: string;
      run: (url: string, dir: string) => Promise<ChildRun>;
      note: string;
    }> = [
      {
        name: OURS,
        note: `\`sync -c <config> --json\` of the installed CLI (bin/files-sync.cjs -> dist/, as users run it), api.concurrency ${SYNC_CONCURRENCY}, fresh state dir; hashes every file and keeps a manifest`,
        run: (url, dir) => syncRun(url, dir, true),
      },
      {
        name: SDK_CONCURRENT,
        note: `bench/baselines/sdk-upload.ts --concurrency ${SYNC_CONCURRENCY}: client.files.upload(fs.createReadStream(p)) (GA), no hashing, a path->ID map written at the end`,
        run: (url, dir) =>
          runNode(
            sdkScript,
            [
              '--root',
              corpusRoot,
              '--concurrency',
              String(SYNC_CONCURRENCY),
              '--out',
              path.join(dir, 'ids.json'),
            ],
            { env: productEnv(url), tsx: false },
          ),
      },
      {
        name: SDK_SERIAL,
        note: 'bench/baselines/sdk-upload.ts --concurrency 1: the naive script',
        run: (url, dir) =>
          runNode(
            sdkScript,
            ['--root', corpusRoot, '--concurrency', '1', '--out', path.join(dir, 'ids.json')],
            { env: productEnv(url), tsx: false },
          ),
      },
      {
        name: OURS_FROM_SOURCE,
        note: 'the same `sync` from src/ through tsx (`npm start`), for reference',
        run: (url, dir) => syncRun(url, dir, false),
      },
    ];

    for (const c of contenders) {
      // GA only: every contender speaks the same contract, none can fall back to the beta shapes.
      const emulator = await startBenchEmulator({ emulator: { gaOnly: true } });
      const dir = await fs.mkdtemp(path.join(ctx.workDir, 'run-'));
      try {
        ctx.log(`${c.name}: uploading ${files} files (${mb.toFixed(0)} MB)`);
        const run = await c.run(emulator.url, dir);
        assertExitOk(run, c.name);
        const remote = emulator.core
          .files()
          .map((f) => f.sha256)
          .sort();
        const same = remote.length === expected.length && remote.every((h, i) => h === expected[i]);
        checks.push({
          name: `${c.name}: every file arrived once with the right content`,
          ok: same,
          detail: `${remote.length} remote files for ${files} local`,
        });
        const extra: Record<string, number | null> = { uploads: emulator.core.stats().uploadsCreated };
        const product = c.name === OURS || c.name === OURS_FROM_SOURCE;
        if (product) {
          const reports = JSON.parse(run.stdout) as SyncReport[];
          const report = reports[0];
          extra.hashed = report?.hashed ?? null;
          checks.push({
            name: `${c.name}: report says all uploaded, none failed`,
            ok: report?.uploaded === files && report.failed.length === 0,
            detail: `uploaded ${report?.uploaded}, failed ${report?.failed.length}`,
          });
        } else {
          extra.work_s = seconds((JSON.parse(run.stdout) as { workMs: number }).workMs);
        }
        record(c.name, c.name === OURS ? 'ours' : product ? 'reference' : 'baseline', run, extra, c.note);
      } finally {
        await emulator.close();
        await fs.rm(dir, { recursive: true, force: true });
      }
    }

    measurements.push(
      await startupReference(
        'an empty script run by node as ours and the SDK baselines are; part of each wall_s above',
        { compiledNoop: noop },
      ),
      await startupReference('an empty script through tsx; part of the from-source figure'),
    );

    const ratios = [SDK_SERIAL, SDK_CONCURRENT].flatMap((b) => [
      ratioOf(measurements, OURS, b, 'wall_s', 'lower'),
      ratioOf(measurements, OURS, b, 'files_per_s', 'higher'),
      ratioOf(measurements, OURS, b, 'cpu_s', 'lower'),
      ratioOf(measurements, OURS, b, 'peak_rss_mb', 'lower'),
    ]);
    return {
      sizes: {
        files,
        bytes: corpus.bytes,
        min_size: 1024,
        max_size: 2 * 1024 * 1024,
        concurrency: SYNC_CONCURRENCY,
      },
      measurements,
      ratios,
      checks,
      notes: [
        'wall_s is spawn-to-exit of the contender process; cpu_s and peak_rss_mb are the client process only (the emulator runs in the benchmark process).',
        'files-sync also hashes every file, records upload intents and keeps its manifest; the SDK baselines do neither.',
        'Ours runs as installed and the SDK script compiled by esbuild (the SDK bundled in), both on plain node, so neither pays for a TypeScript loader; the from-source row shows what tsx adds to ours.',
      ],
    };
  },
};
