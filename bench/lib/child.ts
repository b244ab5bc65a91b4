/**
 * Runs one measured contender as a child process: wall time from spawn to exit, CPU and peak RSS
 * as the child reports them itself (usage-probe.js, preloaded with --import), or via
 * /usr/bin/time for programs that are not node.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FilesSyncError } from '../../src/errors.js';

/** The repository root (bench/lib/../..). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The preload that makes a node child report its own CPU time and peak RSS. */
export const USAGE_PROBE = path.join(REPO_ROOT, 'bench', 'lib', 'usage-probe.js');

/** A child did not finish within its time limit (it has been killed). */
export class ChildTimeoutError extends FilesSyncError {}

/** What one child run cost. cpu/rss are null when the child could not report them. */
export interface ChildRun {
  wallMs: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  userMs: number | null;
  systemMs: number | null;
  cpuMs: number | null;
  maxRssMB: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Killed (SIGKILL) after this long; default 15 minutes. */
  timeoutMs?: number;
  /** false: run `script` (JavaScript) without tsx, as the installed CLI runs; default true. */
  tsx?: boolean;
}

interface UsageReport {
  userMs: number;
  systemMs: number;
  maxRssKB: number;
}

let usageFileSeq = 0;

function usageFilePath(): string {
  usageFileSeq++;
  return path.join(os.tmpdir(), `files-sync-bench-usage-${process.pid}-${usageFileSeq}.json`);
}

/** Reads and deletes a usage report; null when the child never wrote one (killed, crashed early). */
export async function readUsageFile(file: string): Promise<UsageReport | null> {
  try {
    const text = await fs.readFile(file, 'utf8');
    return JSON.parse(text) as UsageReport;
  } catch {
    return null;
  } finally {
    await fs.rm(file, { force: true });
  }
}

/** The environment every measured child gets: loopback only, no inherited files-sync settings. */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1',
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
  };
  for (const key of Object.keys(env)) {
    if (key.startsWith('FILES_SYNC_') || /^(https?|all)_proxy$/i.test(key)) delete env[key];
  }
  delete env.NODE_ENV;
  return { ...env, ...extra };
}

/** Node arguments that load tsx (unless `script` is JavaScript run as installed) and the usage probe before `script`. */
export function nodeArgs(
  script: string,
  args: readonly string[],
  options: { tsx?: boolean | undefined } = {},
): string[] {
  return [...(options.tsx === false ? [] : ['--import', 'tsx']), '--import', USAGE_PROBE, script, ...args];
}

/** A started node child with its usage file, for callers that talk to it while it runs (the daemon). */
export interface StartedNodeChild {
  child: ChildProcess;
  startedAt: number;
  /** Resolves at exit with the full measurement. */
  done: Promise<ChildRun>;
}

/** Spawns `node --import tsx --import usage-probe <script> ...args` and measures it until exit. */
export function startNodeChild(
  script: string,
  args: readonly string[],
  options: RunOptions = {},
): StartedNodeChild {
  const usageFile = usageFilePath();
  const startedAt = performance.now();
  const child = spawn(process.execPath, nodeArgs(script, args, { tsx: options.tsx }), {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...childEnv(options.env), BENCH_USAGE_FILE: usageFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const done = collect(child, startedAt, options.timeoutMs, `node ${path.basename(script)}`).then(
    async (raw) => {
      const usage = await readUsageFile(usageFile);
      return withUsage(raw, usage);
    },
  );
  return { child, startedAt, done };
}

/** Runs a node script to completion under the usage probe. */
export function runNode(
  script: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<ChildRun> {
  return startNodeChild(script, args, options).done;
}

const GNU_TIME = '/usr/bin/time';
const STDOUT_LIMIT = 32 << 20;

/**
 * Runs a non-node program. CPU and peak RSS come from GNU time when it is installed (its report
 * goes to a file, so the program's own stderr is untouched); otherwise they are null.
 */
export async function runProgram(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<ChildRun> {
  const haveTime = existsSync(GNU_TIME);
  const timeFile = usageFilePath();
  const argv = haveTime ? ['-o', timeFile, '-f', '%U %S %M', command, ...args] : [...args];
  const startedAt = performance.now();
  const child = spawn(haveTime ? GNU_TIME : command, argv, {
    cwd: options.cwd ?? REPO_ROOT,
    env: childEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const raw = await collect(child, startedAt, options.timeoutMs, command);
  if (!haveTime) return withUsage(raw, null);
  let usage: UsageReport | null = null;
  try {
    const text = (await fs.readFile(timeFile, 'utf8')).trim().split('\n').pop() ?? '';
    const [user, system, rss] = text.split(' ').map(Number);
    if (
      user !== undefined &&
      system !== undefined &&
      rss !== undefined &&
      [user, system, rss].every(Number.isFinite)
    ) {
      usage = { userMs: user * 1000, systemMs: system * 1000, maxRssKB: rss };
    }
  } catch {
    usage = null;
  } finally {
    await fs.rm(timeFile, { force: true });
  }
  return withUsage(raw, usage);
}

type RawRun = Omit<ChildRun, 'userMs' | 'systemMs' | 'cpuMs' | 'maxRssMB'>;

function withUsage(raw: RawRun, usage: UsageReport | null): ChildRun {
  return {
    ...raw,
    userMs: usage ? usage.userMs : null,
    systemMs: usage ? usage.systemMs : null,
    cpuMs: usage ? usage.userMs + usage.systemMs : null,
    maxRssMB: usage ? usage.maxRssKB / 1024 : null,
  };
}

function collect(
  child: ChildProcess,
  startedAt: number,
  timeoutMs = 15 * 60_000,
  label: string,
): Promise<RawRun> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    // Reports are small; a log stream (the daemon) is read line by line elsewhere, so cap it.
    if (stdout.length < STDOUT_LIMIT) stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    // Keep only the tail: a chatty child must not grow the benchmark's memory.
    stderr = (stderr + d).slice(-64 * 1024);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined) child.kill('SIGKILL');
      reject(
        new ChildTimeoutError(`${label} did not finish within ${timeoutMs} ms`, {
          pid: child.pid,
          timeoutMs,
          stderr: stderr.slice(-2000),
        }),
      );
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (exitCode, signal) => {
      clearTimeout(timer);
      resolve({ wallMs: performance.now() - startedAt, exitCode, signal, stdout, stderr });
    });
  });
}

/** Throws with the child's stderr tail when it did not exit 0. */
export function assertExitOk(run: ChildRun, label: string): void {
  if (run.exitCode === 0) return;
  throw new FilesSyncError(`${label} exited with ${run.exitCode ?? run.signal}: ${run.stderr.slice(-1500)}`, {
    exitCode: run.exitCode,
    signal: run.signal,
  });
}
