// Runs scanFolder on a worker thread, so a large folder's walk (a synchronous lstat per file) leaves the main thread free.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { errorMessage, FilesSyncError } from '../errors.js';
import type { LocalEntry } from '../types.js';
import { childAbort, onAbort } from '../util/child-abort.js';
import { createPathFilter, type PathFilterOptions } from './filter.js';
import { FolderUnavailableError, scanFolder, type ScanResult, type SkippedPath } from './scan.js';

/** What the thread is given: everything scanFolder needs, as plain data (a filter is rebuilt there). */
export interface ScanRequest {
  root: string;
  filter: PathFilterOptions;
  followSymlinks: boolean;
}

/** What the thread answers: the entries packed (paths joined by NUL; size, mtimeMs, ino per path), or what stopped it. */
export type ScanReply =
  | {
      paths: string;
      numbers: Float64Array<ArrayBuffer>;
      skipped: SkippedPath[];
      dirs: number;
      unreadableDirs: string[];
    }
  | { error: { message: string; unavailable: boolean; context: Record<string, unknown> } };

/**
 * Built, the thread's module is plain JavaScript beside this file. From source (tsx, vitest) the
 * thread must load TypeScript, which a worker does not inherit: it registers tsx (found from here,
 * not from the working directory) before importing the module.
 */
function startWorker(request: ScanRequest, workerUrl: URL | undefined): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = workerUrl ?? new URL(fromSource ? './scan-worker.ts' : './scan-worker.js', import.meta.url);
  if (!fromSource) return new Worker(url, { workerData: request });
  // require.resolve finds the CommonJS build, whose register() fails in an eval'd thread; its
  // ES module twin sits beside it (both are in tsx's exports).
  const tsxApi = createRequire(import.meta.url)
    .resolve('tsx/esm/api')
    .replace(/\.cjs$/, '.mjs');
  const boot = `import(${JSON.stringify(pathToFileURL(tsxApi).href)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(boot, { eval: true, workerData: request });
}

/** The scan thread could not start (no threads here, no worker module, an error outside the walk). */
export class ScanThreadUnavailable extends FilesSyncError {}

export interface ScanThreadOptions {
  /** The thread's module; tests point it at a missing file to see the main-thread fallback. */
  workerUrl?: URL;
}

/**
 * Scans `request.root` as scanFolder does, on a thread of its own. An abort ends the thread and
 * rejects with the signal's reason; where a thread cannot start, the scan runs here instead.
 */
export async function scanOnThread(
  request: ScanRequest,
  signal?: AbortSignal,
  options: ScanThreadOptions = {},
): Promise<ScanResult> {
  signal?.throwIfAborted();
  try {
    return await runScanThread(request, signal, options);
  } catch (err) {
    if (!(err instanceof ScanThreadUnavailable)) throw err;
    return await scanFolder(request.root, {
      filter: createPathFilter(request.filter),
      followSymlinks: request.followSymlinks,
      ...(signal ? { signal } : {}),
    });
  }
}

/** scanOnThread without the fallback: rejects with ScanThreadUnavailable when the thread fails. */
export function runScanThread(
  request: ScanRequest,
  signal?: AbortSignal,
  options: ScanThreadOptions = {},
): Promise<ScanResult> {
  return new Promise<ScanResult>((resolve, reject) => {
    signal?.throwIfAborted();
    const unavailable = (why: string): ScanThreadUnavailable =>
      new ScanThreadUnavailable(`scan thread failed: ${why}`, { root: request.root });
    let worker: Worker;
    try {
      worker = startWorker(request, options.workerUrl);
    } catch (err) {
      reject(unavailable(errorMessage(err)));
      return;
    }
    let settled = false;
    let release = (): void => undefined;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      release();
      void worker.terminate();
      fn();
    };
    // An abort rejects with the caller's own reason, whatever it is (a refused key's message).
    const rejectWith: (reason: unknown) => void = reject;
    release = onAbort(signal, (reason) => finish(() => rejectWith(reason)));
    worker.on('message', (reply: ScanReply) =>
      finish(() => (isFailure(reply) ? reject(toError(reply)) : resolve(unpack(reply)))),
    );
    worker.on('error', (err) => finish(() => reject(unavailable(errorMessage(err)))));
    worker.on('exit', (code) => finish(() => reject(unavailable(`exited with code ${code}`))));
  });
}

function isFailure(reply: ScanReply): reply is Extract<ScanReply, { error: unknown }> {
  return 'error' in reply;
}

function toError(reply: Extract<ScanReply, { error: unknown }>): Error {
  const { message, unavailable, context } = reply.error;
  return unavailable ? new FolderUnavailableError(message, context) : new FilesSyncError(message, context);
}

function unpack(reply: Exclude<ScanReply, { error: unknown }>): ScanResult {
  const entries = new Map<string, LocalEntry>();
  if (reply.paths !== '') {
    const { numbers } = reply;
    let i = 0;
    for (const path of reply.paths.split('\0')) {
      entries.set(path, { path, size: numbers[i]!, mtimeMs: numbers[i + 1]!, ino: numbers[i + 2]! });
      i += 3;
    }
  }
  return { entries, skipped: reply.skipped, dirs: reply.dirs, unreadableDirs: reply.unreadableDirs };
}

/** A scan under way on its thread (see `startThreadScan`). */
export interface PendingScan {
  result: Promise<ScanResult>;
  /** Ends the thread; `result` rejects with the reason. */
  cancel(reason?: unknown): void;
}

/** Starts scanOnThread, to be awaited later (or cancelled, or ended by `signal`). */
export function startThreadScan(request: ScanRequest, signal?: AbortSignal): PendingScan {
  const { controller, release } = childAbort(signal);
  const result = scanOnThread(request, controller.signal).finally(release);
  // Cancelled and never awaited is a normal end, not an unhandled rejection.
  result.catch(() => undefined);
  return { result, cancel: (reason) => controller.abort(reason) };
}
