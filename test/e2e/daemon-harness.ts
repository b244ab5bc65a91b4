/**
 * Shared pieces of the daemon end-to-end tests: the `run` command as a child process with its
 * JSON log lines at hand, and the "remote == local" check against the emulator.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { openManifest } from '../../src/state/manifest.js';
import { createPathFilter } from '../../src/local/filter.js';
import type { RunningEmulator } from '../../src/emulator/index.js';
import { spawnCli, type Project } from '../helpers/project.js';
import { waitFor } from '../helpers/wait.js';
import { onCleanup } from '../helpers/cleanup.js';
import pino, { type Logger } from 'pino';

export type LogLine = Record<string, unknown> & { msg?: string; level?: string | number };

/** An in-process logger whose JSON lines are kept for the test to read. */
export function captureLogger(level: 'debug' | 'info' = 'debug'): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines };
}

/** A `files-sync run` child process with its output captured. */
export interface DaemonProcess {
  child: ChildProcess;
  pid: number;
  /** Everything written to stdout and stderr so far. */
  stdout(): string;
  stderr(): string;
  /** stdout parsed line by line; a line that is not JSON makes this throw. */
  logs(): LogLine[];
  /** Waits for a log line matching `pred` (searching from the start). */
  waitForLog(pred: (line: LogLine) => boolean, message: string, timeoutMs?: number): Promise<LogLine>;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Parses JSON log lines; throws on a line that is not a JSON object. */
export function parseLogLines(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const v = JSON.parse(l) as unknown;
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`not a JSON object: ${l}`);
      return v as LogLine;
    });
}

/** Starts `files-sync run -c <config>` (plus `args`) and waits until it logged that it started. */
export async function startDaemon(
  project: Project,
  args: string[] = [],
  env: NodeJS.ProcessEnv = project.env,
): Promise<DaemonProcess> {
  const child = spawnCli(['run', '-c', project.configPath, ...args], { env });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  // Streams may still hold output when 'exit' fires; 'close' means both are drained.
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  let done = false;
  void exited.then(() => (done = true));
  const logs = () => parseLogLines(out.slice(0, out.lastIndexOf('\n') + 1));
  const daemon: DaemonProcess = {
    child,
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    logs,
    async waitForLog(pred, message, timeoutMs = 30_000) {
      let found: LogLine | undefined;
      await waitFor(
        () => {
          if (done && !logs().some(pred)) throw new Error(`daemon exited\nstdout: ${out}\nstderr: ${err}`);
          found = logs().find(pred);
          return found !== undefined;
        },
        { timeoutMs, message: () => `${message}\nstdout: ${out.slice(-4000)}\nstderr: ${err.slice(-2000)}` },
      );
      return found!;
    },
    exited: exited.then(async (r) => {
      await closed;
      return r;
    }),
    async stop(signal = 'SIGTERM') {
      if (!done) child.kill(signal);
      return daemon.exited;
    },
  };
  // Killed after the test whatever happens (registered before the wait, which may throw).
  onCleanup(() => killDaemon(daemon));
  await daemon.waitForLog((l) => l.msg === 'files-sync daemon started', 'daemon start');
  return daemon;
}

/** Kills a daemon that a failed test left running (no-op once it exited). */
export async function killDaemon(d: DaemonProcess | undefined): Promise<void> {
  if (!d || d.child.exitCode !== null || d.child.signalCode !== null) return;
  d.child.kill('SIGKILL');
  await d.exited;
}

/** One synced folder to compare: its root, the state dir and the manifest name. */
export interface FolderUnderTest {
  root: string;
  stateDir: string;
  name: string;
  exclude?: string[];
}

async function sha256Of(file: string): Promise<string> {
  return createHash('sha256')
    .update(await fs.readFile(file))
    .digest('hex');
}

/** Regular files under `root` that the default filter syncs, relative POSIX path to {size, sha256}. */
export async function localFiles(
  root: string,
  exclude: string[] = [],
): Promise<Map<string, { size: number; sha256: string }>> {
  const filter = createPathFilter({ exclude });
  const out = new Map<string, { size: number; sha256: string }>();
  const walk = async (rel: string): Promise<void> => {
    for (const d of await fs.readdir(path.join(root, rel), { withFileTypes: true })) {
      const child = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) {
        if (filter.mayContain(child)) await walk(child);
      } else if (d.isFile() && filter.matchesFile(child)) {
        const abs = path.join(root, child);
        const st = await fs.stat(abs);
        out.set(child, { size: st.size, sha256: await sha256Of(abs) });
      }
    }
  };
  await walk('');
  return out;
}

/**
 * Every way the remote side differs from the local folders, as readable lines ([] = in sync):
 * each local file has exactly one manifest entry whose file ID is live on the emulator with the
 * same size and SHA-256; the manifest knows no other path and no pending work; the emulator
 * holds no file outside the manifests except `unmanaged` IDs (no orphans, no duplicates). With
 * `retainsRemoved`, a removed path's ID queued for deletion after its retention is expected too
 * (live, and its path gone locally).
 */
export async function syncDiff(
  folders: FolderUnderTest[],
  emulator: RunningEmulator,
  unmanaged: ReadonlySet<string> = new Set(),
  opts: { retainsRemoved?: boolean } = {},
): Promise<string[]> {
  const problems: string[] = [];
  const remote = new Map(emulator.files().map((f) => [f.id, f]));
  const claimed = new Map<string, string>();
  for (const folder of folders) {
    const local = await localFiles(folder.root, folder.exclude);
    let manifest;
    try {
      manifest = await openManifest(folder.stateDir, folder.name);
    } catch (err) {
      problems.push(`${folder.name}: no manifest (${(err as Error).message})`);
      continue;
    }
    for (const [rel, file] of local) {
      const entry = manifest.get(rel);
      if (!entry) {
        problems.push(`${folder.name}:${rel}: not in the manifest`);
        continue;
      }
      const r = remote.get(entry.fileId);
      if (!r) problems.push(`${folder.name}:${rel}: ${entry.fileId} is not live on the emulator`);
      else if (r.sizeBytes !== file.size || r.sha256 !== file.sha256)
        problems.push(
          `${folder.name}:${rel}: remote ${entry.fileId} has other content (${r.sizeBytes} bytes)`,
        );
      if (entry.sha256 !== file.sha256 || entry.size !== file.size)
        problems.push(`${folder.name}:${rel}: manifest records other content`);
    }
    for (const [rel, entry] of manifest.entries()) {
      if (!local.has(rel)) problems.push(`${folder.name}:${rel}: in the manifest but not local`);
      const other = claimed.get(entry.fileId);
      if (other !== undefined) problems.push(`${entry.fileId} claimed by ${other} and ${folder.name}:${rel}`);
      claimed.set(entry.fileId, `${folder.name}:${rel}`);
    }
    for (const p of manifest.pendingUploads())
      problems.push(`${folder.name}:${p.path}: pending upload intent`);
    for (const d of manifest.pendingDeletes()) {
      const retained =
        opts.retainsRemoved === true &&
        d.reason === 'removed' &&
        !local.has(d.path) &&
        remote.has(d.fileId) &&
        d.notBefore !== undefined &&
        Date.parse(d.notBefore) > Date.now();
      if (!retained) problems.push(`${folder.name}: pending delete of ${d.fileId} (${d.path})`);
      else if (claimed.has(d.fileId)) problems.push(`${d.fileId} both recorded and queued for deletion`);
      else claimed.set(d.fileId, `${folder.name}: queued delete of ${d.path}`);
    }
  }
  for (const f of remote.values()) {
    if (!claimed.has(f.id) && !unmanaged.has(f.id))
      problems.push(`orphan or duplicate on the emulator: ${f.id} (${f.filename})`);
  }
  return problems;
}

/** The project's single folder as a FolderUnderTest. */
export function projectFolder(project: Project, name = 'docs'): FolderUnderTest {
  return { root: project.folder, stateDir: project.stateDir, name };
}

/** Waits until `syncDiff` finds nothing; the timeout message lists what still differs. */
export async function waitForSync(
  project: Project,
  opts: {
    folders?: FolderUnderTest[];
    unmanaged?: ReadonlySet<string>;
    /** Removed paths' IDs waiting out their retention are expected (see syncDiff). */
    retainsRemoved?: boolean;
    timeoutMs?: number;
    what?: string;
  } = {},
): Promise<void> {
  const folders = opts.folders ?? [projectFolder(project)];
  let last: string[] = ['not checked yet'];
  await waitFor(
    async () => {
      last = await syncDiff(folders, project.emulator, opts.unmanaged, {
        retainsRemoved: opts.retainsRemoved === true,
      });
      return last.length === 0;
    },
    {
      timeoutMs: opts.timeoutMs ?? 30_000,
      intervalMs: 100,
      message: () => `${opts.what ?? 'remote == local'}; still different:\n${last.slice(0, 30).join('\n')}`,
    },
  );
}

/** Writes a file (creating directories) under a root. */
export async function writeUnder(root: string, rel: string, content: string | Buffer): Promise<void> {
  const abs = path.join(root, rel);
  await fs.mkdir(path.dirname(abs), { recursive: true });
  await fs.writeFile(abs, content);
}

/** Writes the project's config file anew (the daemon reads it on SIGHUP). */
export async function writeConfig(project: Project, config: Record<string, unknown>): Promise<void> {
  await fs.writeFile(project.configPath, JSON.stringify(config, null, 2));
}

/** Reads the project's config file. */
export async function readConfig(project: Project): Promise<Record<string, unknown>> {
  return JSON.parse(await fs.readFile(project.configPath, 'utf8')) as Record<string, unknown>;
}
