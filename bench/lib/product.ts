/** files-sync as benchmarks drive it: a config file, the CLI entry, and a state seeded in-process. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { mimeTypeFor } from '../../src/api/mime.js';
import { remoteNameFor } from '../../src/api/filename.js';
import type { EmulatorCore } from '../../src/emulator/index.js';
import { Manifest } from '../../src/state/manifest.js';
import { loadConfig } from '../../src/config/load.js';
import { REPO_ROOT, runNode } from './child.js';
import { seconds, type Measurement } from './results.js';
import { BENCH_API_KEY } from './emulator.js';
import { BenchError } from './errors.js';

/** The CLI entry point (run through tsx, exactly as `npm start` does). */
export const CLI_ENTRY = path.join(REPO_ROOT, 'src', 'cli', 'main.ts');
/** The installed CLI (package bin -> dist/), what users run; needs buildDist() first. */
export const INSTALLED_CLI = path.join(REPO_ROOT, 'bin', 'files-sync.cjs');

/** The 'node + tsx start-up' reference row: an empty script run the way every contender is (wall_s, cpu_s, peak_rss_mb). */
export function tsxStartupReference(note: string): Promise<Measurement> {
  return startupReference(note);
}

/**
 * A start-up reference row: the empty script (bench/contenders/noop.ts) through tsx, or, given
 * `compiledNoop` (it compiled by compileScript), run by plain node. `wallMetric` names its wall
 * time as the scenario's table does.
 */
export async function startupReference(
  note: string,
  options: { compiledNoop?: string; wallMetric?: string } = {},
): Promise<Measurement> {
  const { compiledNoop, wallMetric = 'wall_s' } = options;
  const startup =
    compiledNoop === undefined
      ? await runNode(path.join(REPO_ROOT, 'bench', 'contenders', 'noop.ts'), [])
      : await runNode(compiledNoop, [], { tsx: false });
  return {
    contender: compiledNoop === undefined ? 'node + tsx start-up' : 'node start-up',
    role: 'reference',
    metrics: {
      [wallMetric]: seconds(startup.wallMs),
      cpu_s: seconds(startup.cpuMs),
      peak_rss_mb: startup.maxRssMB,
    },
    note,
  };
}

let distBuilt: Promise<void> | undefined;

/**
 * Builds dist/ as `npm run build` does (tsc, then the `id` bundle), so that INSTALLED_CLI runs the
 * code under test. Once per benchmark run: the source does not change while it runs, and five
 * scenarios need dist/ (a failed build is tried again by the next).
 */
export function buildDist(): Promise<void> {
  distBuilt ??= build().catch((err: unknown) => {
    distBuilt = undefined;
    throw err;
  });
  return distBuilt;
}

async function build(): Promise<void> {
  const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const build = await runNode(tsc, ['-p', 'tsconfig.build.json'], { tsx: false });
  if (build.exitCode !== 0) throw new BenchError(`build failed: ${build.stdout}${build.stderr}`, {});
  const bundle = await runNode(path.join(REPO_ROOT, 'scripts', 'bundle-id.mjs'), [], { tsx: false });
  if (bundle.exitCode !== 0) throw new BenchError(`bundle failed: ${bundle.stdout}${bundle.stderr}`, {});
}
/** The folder name every benchmark config uses (names the manifest file). */
export const FOLDER_NAME = 'bench';

export interface ProductConfigOptions {
  baseUrl: string;
  folderPath: string;
  stateDir: string;
  concurrency: number;
  debounceMs?: number;
  /** 0 = no periodic reconciliation (benchmarks want only the one at start). */
  reconcileIntervalMs?: number;
  watch?: boolean;
  /** watch.backend; omitted = the product's default. */
  watchBackend?: string;
  logLevel?: 'info' | 'warn' | 'debug';
  /** The `state` section; omitted = the default (lowdb files in stateDir). */
  state?: { backend: 'postgres'; url: string };
}

/** Writes `<dir>/sync.config.json` for one folder and returns its path. */
export async function writeProductConfig(dir: string, o: ProductConfigOptions): Promise<string> {
  const config = {
    api: { baseUrl: o.baseUrl, concurrency: o.concurrency },
    stateDir: o.stateDir,
    folders: [{ name: FOLDER_NAME, path: o.folderPath }],
    watch: {
      enabled: o.watch ?? true,
      debounceMs: o.debounceMs ?? 1000,
      ...(o.watchBackend !== undefined ? { backend: o.watchBackend } : {}),
    },
    reconcile: { intervalMs: o.reconcileIntervalMs ?? 0, onStart: true },
    // Benchmarks change (and seed) many files at once; the guards are not what is measured.
    safety: { maxDeletes: 100_000_000, maxDeletePercent: 100 },
    log: { level: o.logLevel ?? 'info' },
    ...(o.state !== undefined ? { state: o.state } : {}),
  };
  const file = path.join(dir, 'sync.config.json');
  await fs.writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

/** The watcher backend a config file ends up with (its own, or the product's default). */
export async function effectiveWatchBackend(configPath: string): Promise<string> {
  const { config } = await loadConfig({ configPath, env: {} });
  return config.watch.backend;
}

/** The environment for the CLI: the emulator's URL and a throwaway key (never a real one). */
export function productEnv(baseUrl: string): NodeJS.ProcessEnv {
  return { ANTHROPIC_API_KEY: BENCH_API_KEY, ANTHROPIC_BASE_URL: baseUrl };
}

/** Relative paths in the manifest use '/', the disk uses the platform separator. */
export function absPath(root: string, relPath: string): string {
  return path.join(root, ...relPath.split('/'));
}

/**
 * Puts a tree into the "already synced" state without uploading it: each file is added to the
 * emulator (as if uploaded earlier) and recorded through Manifest, the engine's own write path,
 * with the stat the scanner will see. Uploading 100k files through the CLI first would measure
 * the initial sync again and cost minutes.
 */
export async function seedSyncedState(options: {
  root: string;
  stateDir: string;
  files: ReadonlyArray<{ path: string; size: number }>;
  sha256: ReadonlyMap<string, string>;
  emulator: EmulatorCore;
}): Promise<{ entries: number; manifestBytes: number }> {
  const manifest = await Manifest.open(options.stateDir, { name: FOLDER_NAME, root: options.root });
  const uploadedAt = new Date(Date.now() - 60_000).toISOString();
  try {
    const batch = 64;
    for (let i = 0; i < options.files.length; i += batch) {
      const slice = options.files.slice(i, i + batch);
      const stats = await Promise.all(slice.map((f) => fs.lstat(absPath(options.root, f.path))));
      slice.forEach((f, k) => {
        const st = stats[k]!;
        const sha256 = options.sha256.get(f.path);
        if (sha256 === undefined) throw new BenchError(`no hash recorded for ${f.path}`, { path: f.path });
        const remoteName = remoteNameFor(f.path);
        const mimeType = mimeTypeFor(f.path);
        const remote = options.emulator.addFile({
          filename: remoteName,
          sizeBytes: st.size,
          mimeType,
          sha256,
          createdAt: uploadedAt,
        });
        manifest.set(f.path, {
          fileId: remote.id,
          sha256,
          size: st.size,
          mtimeMs: st.mtimeMs,
          ino: st.ino,
          remoteName,
          mimeType,
          uploadedAt,
        });
      });
    }
  } finally {
    await manifest.close();
  }
  const manifestBytes = (await fs.stat(manifest.file)).size;
  return { entries: options.files.length, manifestBytes };
}
