/** Test fixtures for end-to-end tests: temp folders, a config file, the emulator, the CLI as a child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../src/emulator/index.js';
import { FilesClient } from '../../src/api/client.js';
import { loadConfig } from '../../src/config/load.js';
import { onCleanup } from './cleanup.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI_ENTRY = path.join(REPO_ROOT, 'src', 'cli', 'main.ts');
/** tsx's loader by absolute URL, so the CLI runs from any working directory. */
export const TSX_LOADER = pathToFileURL(
  path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs'),
).href;
export const TEST_KEY = 'sk-ant-test-0123456789abcdef-SECRET';

export interface Project {
  dir: string;
  folder: string;
  stateDir: string;
  configPath: string;
  emulator: RunningEmulator;
  env: NodeJS.ProcessEnv;
  write(rel: string, content: string | Buffer): Promise<void>;
  remove(rel: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** Makes a temp dir with a folder to sync, a state dir, a config file and a running emulator; all removed after the test. */
export async function makeProject(
  opts: { config?: Record<string, unknown>; emulator?: EmulatorOptions; files?: Record<string, string> } = {},
): Promise<Project> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'files-sync-e2e-'));
  const folder = path.join(dir, 'folder');
  const stateDir = path.join(dir, 'state');
  await fs.mkdir(folder, { recursive: true });
  const emulator = await startEmulator({ apiKey: TEST_KEY, ...opts.emulator });
  const configPath = path.join(dir, 'sync.config.json');
  // Each test's emulator is a workspace of its own (exclusive), and old IDs are deleted at once
  // (no retention) unless a test says otherwise: the suites check "no orphan, no duplicate" and
  // immediate deletes. The shared-workspace tests set both explicitly.
  const api = {
    baseUrl: emulator.url,
    concurrency: 4,
    maxRetryTimeMs: 60_000,
    workspaceExclusive: true,
    ...(opts.config?.['api'] as Record<string, unknown> | undefined),
  };
  const config = {
    api,
    stateDir,
    folders: [{ name: 'docs', path: folder }],
    watch: { debounceMs: 200 },
    reconcile: { intervalMs: 0 },
    retention: { supersededMs: 0, removedMs: 0 },
    log: { level: 'info' },
    ...opts.config,
  };
  config.api = api;
  await fs.writeFile(configPath, JSON.stringify(config, null, 2));
  const write = async (rel: string, content: string | Buffer) => {
    const abs = path.join(folder, rel);
    await fs.mkdir(path.dirname(abs), { recursive: true });
    await fs.writeFile(abs, content);
  };
  for (const [rel, content] of Object.entries(opts.files ?? {})) await write(rel, content);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ANTHROPIC_API_KEY: TEST_KEY,
    ANTHROPIC_BASE_URL: emulator.url,
    NO_COLOR: '1',
  };
  delete env.FILES_SYNC_CONFIG;
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await emulator.close();
    // A daemon stopped just before may still be removing its last files: retry ENOTEMPTY/EBUSY.
    await fs.rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  };
  onCleanup(cleanup);
  return {
    dir,
    folder,
    stateDir,
    configPath,
    emulator,
    env,
    write,
    remove: (rel) => fs.rm(path.join(folder, rel), { recursive: true, force: true }),
    cleanup,
  };
}

/**
 * A project with its config loaded and a FilesClient on its emulator (quick retries), for tests
 * that drive the engine in-process; the client is closed after the test, before the project.
 */
export async function makeProjectWithClient(files: Record<string, string>) {
  const p = await makeProject({ files });
  const { config } = await loadConfig({ configPath: p.configPath, env: {} });
  const c = new FilesClient({
    apiKey: TEST_KEY,
    baseUrl: p.emulator.url,
    backoffBaseMs: 5,
    maxBackoffMs: 20,
  });
  onCleanup(() => c.close());
  return { p, config, folder: config.folders[0]!, c };
}

/** The file names on the project's emulator, sorted. */
export function remoteNames(p: Project): string[] {
  return p.emulator
    .files()
    .map((f) => f.filename)
    .sort();
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI (through tsx) to completion. */
export function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, opts);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts the CLI (through tsx) and returns the child process. */
export function spawnCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): ChildProcess {
  return spawn(process.execPath, ['--import', TSX_LOADER, CLI_ENTRY, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
