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
  /** How often the thread sends the files found so far, in ms (default 100; tests make it small). */
  batchMs?: number;
}

/** Files packed to cross the thread boundary: paths joined by NUL; size, mtimeMs, ino per path. */
export interface PackedEntries {
  paths: string;
  numbers: Float64Array<ArrayBuffer>;
}

/**
 * What the thread sends: batches of the files found so far, as it walks; then the files found since
 * the last batch with the rest of the result, or what stopped it.
 */
export type ScanReply =
  | { batch: PackedEntries }
  | (PackedEntries & { skipped: SkippedPath[]; dirs: number; unreadableDirs: string[] })
  | { error: { message: string; unavailable: boolean; context: Record<string, unknown> } };

/**
 * Told of the files a thread's walk found, batch by batch, as they arrive: `into` is the map the
 * result will hold (they are in it already).
 */
export type ScanFollower = (added: readonly LocalEntry[], into: ReadonlyMap<string, LocalEntry>) => void;

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
  /** Each batch of files as the thread sends it (not called for a walk that falls back to this thread). */
  onEntries?: ScanFollower;
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
    const entries = new Map<string, LocalEntry>();
    const take = (packed: PackedEntries): void => {
      const added = unpackInto(entries, packed);
      // A follower's failure is its own to notice (see scanAll); it must not end the walk.
      try {
        options.onEntries?.(added, entries);
      } catch {
        // ignored on purpose
      }
    };
    worker.on('message', (reply: ScanReply) => {
      if (settled) return;
      if ('batch' in reply) return take(reply.batch);
      if (isFailure(reply)) return finish(() => reject(toError(reply)));
      take(reply);
      const { skipped, dirs, unreadableDirs } = reply;
      finish(() => resolve({ entries, skipped, dirs, unreadableDirs }));
    });
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

/** Adds the packed files to `entries`; returns them. */
function unpackInto(entries: Map<string, LocalEntry>, packed: PackedEntries): LocalEntry[] {
  const added: LocalEntry[] = [];
  if (packed.paths === '') return added;
  const { numbers } = packed;
  let i = 0;
  for (const path of packed.paths.split('\0')) {
    const entry = { path, size: numbers[i]!, mtimeMs: numbers[i + 1]!, ino: numbers[i + 2]! };
    entries.set(path, entry);
    added.push(entry);
    i += 3;
  }
  return added;
}

/** A scan under way on its thread (see `startThreadScan`). */
export interface PendingScan {
  result: Promise<ScanResult>;
  /** Ends the thread; `result` rejects with the reason. */
  cancel(reason?: unknown): void;
  /**
   * Calls `fn` at once with the files the thread has sent so far, then with each batch as it
   * arrives, the last one just before `result` resolves. Every file of a result the thread
   * walked reaches `fn` once, in walk order, with that result's map as `into`; a result walked
   * elsewhere (the thread could not run) is another map and never reached `fn`.
   */
  follow(fn: ScanFollower): void;
}

/** Starts scanOnThread, to be awaited later (or cancelled, or ended by `signal`). */
export function startThreadScan(request: ScanRequest, signal?: AbortSignal): PendingScan {
  const { controller, release } = childAbort(signal);
  let into: ReadonlyMap<string, LocalEntry> | undefined;
  const followers: ScanFollower[] = [];
  const onEntries: ScanFollower = (added, map) => {
    into = map;
    for (const fn of followers) fn(added, map);
  };
  const result = scanOnThread(request, controller.signal, { onEntries }).finally(release);
  // Cancelled and never awaited is a normal end, not an unhandled rejection.
  result.catch(() => undefined);
  return {
    result,
    cancel: (reason) => controller.abort(reason),
    follow: (fn) => {
      if (into !== undefined) fn([...into.values()], into);
      followers.push(fn);
    },
  };
}
