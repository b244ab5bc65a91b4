// The start/ready/stop/fail life of a watcher, shared by every backend: each backend only adds how it watches.
import { promises as fs } from 'node:fs';
import type { Logger } from 'pino';
import type { WatchError } from './watch-types.js';
import { INOTIFY_WATCHES_SYSCTL, WatchLimitError, type WatchOptions } from './watch-types.js';

const INOTIFY_WATCHES_PROC = '/proc/sys/fs/inotify/max_user_watches';

/**
 * The rules every backend keeps: ready() resolves once, also when the watcher stops first; once
 * halted nothing more is delivered; close runs once; a fatal error is reported to onError before
 * ready() resolves (the caller hears why before it hears "ready"); an exhausted inotify limit is
 * reported once however many errors follow it.
 */
export interface WatcherLifecycle {
  /** True once halted: backends drop events and errors from then on. */
  readonly stopped: boolean;
  readonly ready: Promise<void>;
  markReady(): void;
  /** Stops delivering, synchronously (closing the backend may take a while). */
  halt(): void;
  /** Halts and releases the backend, once; ready() resolves when done. */
  stop(): Promise<void>;
  /** A non-fatal error: reported, the watcher keeps going. */
  report(err: WatchError): void;
  /** A fatal error: halt, report, stop. */
  fail(err: WatchError): Promise<void>;
  /** The kernel refused another watch (ENOSPC): halt, report one WatchLimitError, stop. */
  failWatchLimit(context: Record<string, unknown>, cause: unknown): Promise<void>;
}

export function watcherLifecycle(
  options: Pick<WatchOptions, 'root' | 'onError'> & {
    logger: Logger;
    /** Releases what the backend holds (closing it); called once, synchronously from stop(). */
    release: () => Promise<void>;
    /** Drops whatever the backend has buffered but not delivered yet. */
    onHalt?: () => void;
  },
): WatcherLifecycle {
  let stopped = false;
  let closePromise: Promise<void> | undefined;
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });

  const halt = (): void => {
    stopped = true;
    options.onHalt?.();
  };

  const stop = (): Promise<void> => {
    if (closePromise !== undefined) return closePromise;
    halt();
    let released: Promise<void>;
    try {
      released = options.release();
    } catch (err) {
      released = Promise.reject(err);
    }
    closePromise = released.finally(markReady);
    return closePromise;
  };

  return {
    get stopped() {
      return stopped;
    },
    ready,
    markReady: () => markReady(),
    halt,
    stop,
    report(err) {
      if (!stopped) options.onError(err);
    },
    async fail(err) {
      if (stopped) return;
      halt();
      try {
        options.onError(err);
      } finally {
        await stop().catch((closeErr: unknown) =>
          options.logger.debug({ err: closeErr }, 'closing the watcher failed'),
        );
      }
    },
    async failWatchLimit(context, cause) {
      if (stopped) return;
      // Halt first so that the burst of ENOSPC errors that follows the first one is not reported.
      halt();
      const err = await watchLimitError(options.root, context, cause);
      options.logger.warn(
        { code: 'ENOSPC', maxUserWatches: err.context.maxUserWatches },
        'inotify watch limit reached; watcher stopped',
      );
      try {
        options.onError(err);
      } finally {
        await stop().catch((closeErr: unknown) =>
          options.logger.debug({ err: closeErr }, 'closing the watcher failed'),
        );
      }
    },
  };
}

/** The message and error for an exhausted inotify watch limit, shared by every backend. */
export async function watchLimitError(
  root: string,
  context: Record<string, unknown>,
  cause: unknown,
): Promise<WatchLimitError> {
  const limit = await readInotifyLimit();
  const current = limit === undefined ? '' : ` (currently ${limit})`;
  const message =
    `inotify watch limit reached while watching ${root}${current}; live watching stopped for this ` +
    `folder, which is now kept in sync by periodic reconciliation only. Raise ${INOTIFY_WATCHES_SYSCTL}, e.g. ` +
    `\`sudo sysctl ${INOTIFY_WATCHES_SYSCTL}=524288\`, persist it with ` +
    `\`echo ${INOTIFY_WATCHES_SYSCTL}=524288 | sudo tee /etc/sysctl.d/90-files-sync.conf\`, then restart files-sync.`;
  return new WatchLimitError(
    message,
    { ...context, code: 'ENOSPC', ...(limit === undefined ? {} : { maxUserWatches: limit }) },
    { cause },
  );
}

async function readInotifyLimit(): Promise<number | undefined> {
  try {
    const n = Number.parseInt((await fs.readFile(INOTIFY_WATCHES_PROC, 'utf8')).trim(), 10);
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The `code` of an error-like value, if it has a string one. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** `{ code }` for an error context, or nothing when there is no code. */
export function codeOf(code: string | undefined): { code?: string } {
  return code === undefined ? {} : { code };
}
