// Hashes the files of a full scan on worker threads: every core hashes, the main thread stays free, and a read costs no thread-pool trip.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { errorMessage, FilesSyncError } from '../errors.js';
import {
  assertReadWhole,
  countHash,
  hashFile,
  notRegularFile,
  vanishedWhileHashing,
  type FileHash,
  type FileVersion,
} from './hash.js';

/** What a thread is asked: hash `path`, which a scan saw `size` bytes long. */
export interface HashJob {
  id: number;
  path: string;
  size: number;
}

/** What a thread answers: the hash of what it read and the stat after the read, or what stopped it. */
export type HashReply =
  | { id: number; sha256: string; bytesRead: number; after: FileVersion & { isFile: boolean } }
  | { id: number; error: { message: string; code?: string } };

const WORKER_URL = new URL('./hash-worker.mjs', import.meta.url);

/** Threads at most: hashing is bound by the cores, and a scan has 4 files in flight (local-state). */
const MAX_THREADS = 4;

export interface HashPoolOptions {
  /** Threads; default one per core, at most MAX_THREADS. */
  threads?: number;
  /** Threads end after this long without work, so an idle daemon holds none; default 2000 ms. */
  idleMs?: number;
  /** The thread's module; tests point it at a missing file to see the main-thread fallback. */
  workerUrl?: URL;
}

interface Waiter {
  job: HashJob;
  resolve(reply: HashReply): void;
  reject(err: unknown): void;
}

interface Thread {
  worker: Worker;
  waiting: Map<number, Waiter>;
  /** True once it answered a job: a thread that fails before that could not start at all. */
  answered: boolean;
}

/** A hash thread died with the job in hand: says nothing about the file (the next pass tries again). */
export class HashThreadError extends FilesSyncError {}

/** Threads cannot start here: the job goes to hashFile on the main thread. */
class ThreadsUnavailable extends Error {}

/**
 * A small pool of hashing threads, started on first use and ended when idle. Its answers carry the
 * same checks and errors as hashFile with `expected`. Where threads cannot start (a packaging
 * without the worker file), it hashes on the main thread instead.
 */
export class HashPool {
  private readonly threads: Thread[] = [];
  private readonly maxThreads: number;
  private readonly idleMs: number;
  private readonly workerUrl: URL;
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | undefined;
  private threadsUnavailable = false;
  private closing = false;

  constructor(options: HashPoolOptions = {}) {
    this.maxThreads = Math.max(1, options.threads ?? Math.min(MAX_THREADS, availableParallelism()));
    this.idleMs = options.idleMs ?? 2000;
    this.workerUrl = options.workerUrl ?? WORKER_URL;
  }

  /** Threads running now (tests see the pool end them when idle). */
  get liveThreads(): number {
    return this.threads.length;
  }

  /**
   * SHA-256 of `absPath`, which a scan saw as `expected`. FileChangedError when it is not that
   * version any more, changed during the read or vanished; other read errors carry their code.
   */
  async hash(absPath: string, expected: FileVersion, signal?: AbortSignal): Promise<FileHash> {
    signal?.throwIfAborted();
    let reply: HashReply;
    try {
      if (this.threadsUnavailable) throw new ThreadsUnavailable();
      reply = await this.run({ id: this.nextId++, path: absPath, size: expected.size }, signal);
    } catch (err) {
      if (!(err instanceof ThreadsUnavailable)) throw err;
      return hashFile(absPath, { expected, ...(signal ? { signal } : {}) });
    }
    if ('error' in reply) {
      if (reply.error.code === 'ENOENT') throw vanishedWhileHashing(absPath);
      // As node:fs would have thrown it: the message names the path, `code` says what went wrong.
      throw Object.assign(new Error(reply.error.message), reply.error.code ? { code: reply.error.code } : {});
    }
    if (!reply.after.isFile) throw notRegularFile(absPath);
    assertReadWhole(absPath, expected, reply.after, reply.bytesRead, 'expected');
    countHash(reply.bytesRead);
    return {
      sha256: reply.sha256,
      size: reply.after.size,
      mtimeMs: reply.after.mtimeMs,
      ino: reply.after.ino,
    };
  }

  /** Ends every thread now; a later hash() starts them again. */
  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    this.closing = true;
    // Out of the list at once: a hash() meanwhile starts a fresh thread, never one being ended.
    const ending = this.threads.splice(0);
    try {
      await Promise.all(ending.map((t) => t.worker.terminate()));
    } finally {
      this.closing = false;
    }
  }

  private run(job: HashJob, signal: AbortSignal | undefined): Promise<HashReply> {
    clearTimeout(this.idleTimer);
    const thread = this.pick();
    return new Promise<HashReply>((resolve, reject) => {
      // An abort answers at once; the thread finishes the file (one at most) and its reply is dropped.
      const onAbort = (): void => {
        if (thread.waiting.delete(job.id)) this.settled(thread);
        reject(signal?.reason as unknown);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => signal?.removeEventListener('abort', onAbort);
      thread.waiting.set(job.id, {
        job,
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      // Referenced only while it has work: an idle pool never keeps the process alive.
      thread.worker.ref();
      thread.worker.postMessage(job);
    });
  }

  /** The least busy thread, or a new one while every thread has work and there is room for one more. */
  private pick(): Thread {
    let best: Thread | undefined;
    for (const t of this.threads) if (best === undefined || t.waiting.size < best.waiting.size) best = t;
    if (best !== undefined && (best.waiting.size === 0 || this.threads.length >= this.maxThreads))
      return best;
    return this.spawn();
  }

  private spawn(): Thread {
    const thread: Thread = { worker: new Worker(this.workerUrl), waiting: new Map(), answered: false };
    const { worker } = thread;
    worker.on('message', (reply: HashReply) => {
      thread.answered = true;
      const waiter = thread.waiting.get(reply.id);
      thread.waiting.delete(reply.id);
      waiter?.resolve(reply);
      this.settled(thread);
    });
    let ended = false;
    const end = (err: unknown): void => {
      if (ended) return;
      ended = true;
      const i = this.threads.indexOf(thread);
      if (i >= 0) this.threads.splice(i, 1);
      const waiters = [...thread.waiting.values()];
      thread.waiting.clear();
      // A thread that never answered could not start (no worker file, no threads here): from now
      // on the main thread hashes, these jobs included.
      if (!thread.answered && !this.closing && waiters.length > 0) this.threadsUnavailable = true;
      for (const w of waiters) {
        w.reject(
          this.threadsUnavailable
            ? new ThreadsUnavailable()
            : new HashThreadError(`hash thread ended while hashing ${w.job.path}: ${errorMessage(err)}`, {
                path: w.job.path,
              }),
        );
      }
    };
    worker.on('error', end);
    worker.on('exit', (code) => end(new Error(`exit code ${code}`)));
    this.threads.push(thread);
    return thread;
  }

  /** After a job ends: an idle thread lets the process exit, and an idle pool ends its threads. */
  private settled(thread: Thread): void {
    if (thread.waiting.size === 0) thread.worker.unref();
    if (this.threads.some((t) => t.waiting.size > 0)) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.close(), this.idleMs);
    this.idleTimer.unref();
  }
}

/** The process's pool (full scans of every folder share it). */
export const hashPool = new HashPool();
