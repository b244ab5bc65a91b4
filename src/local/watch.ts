import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { watch as chokidarWatch, type ChokidarOptions, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import { FilesSyncError } from '../errors.js';
import type { PathFilter } from './filter.js';
import { createParcelWatcher } from './watch-parcel.js';

/**
 * One raw file-system change, relative to the folder root (POSIX separators). The consumer stats
 * the path anyway, so the type is a hint: 'change' covers creation too; 'dir' asks the consumer
 * to re-list that directory; 'unlink-dir' means anything under it may be gone ('' is the root).
 */
export interface WatchEvent {
  type: 'change' | 'unlink' | 'dir' | 'unlink-dir';
  path: string;
}

/** A running watcher of one folder, whatever the backend. */
export interface FolderWatcher {
  /**
   * Resolves when the initial crawl is done and events flow; also resolves (never hangs, never
   * rejects) when the watcher stopped first: closed, or stopped after an error given to onError.
   */
  ready(): Promise<void>;
  /** Stops watching; no event is delivered once this is called. Idempotent. */
  close(): Promise<void>;
  /** Approximate number of watched paths (for status/metrics); 0 once stopped. */
  watchedCount(): number;
}

/** The part of a path filter the watcher needs (createPathFilter provides it). */
export type WatchFilter = Pick<PathFilter, 'matchesFile' | 'mayContain'>;

export interface WatchOptions {
  root: string;
  filter: WatchFilter;
  /** Default false: a symlink is reported as a path of its own, its target is not watched. */
  followSymlinks?: boolean;
  /**
   * Raw events, batched per event-loop turn; never called with an empty array or after close().
   * chokidar drops a 'change' that follows another one of the same path within 50 ms, so check a
   * path only after a quiet period well above that (the debouncer's quietMs, e.g. 300 ms): the
   * check then sees the later write too.
   */
  onEvents: (events: WatchEvent[]) => void;
  onError: (err: Error & { code?: string }) => void;
  logger: Logger;
}

/** 'parcel' (@parcel/watcher: one inotify watch per directory, native, light) or 'chokidar'. */
export type WatchBackend = 'parcel' | 'chokidar';

/** A watcher error, with the folder root, the OS error code and the path involved as context. */
export class WatchError extends FilesSyncError {
  /** The OS error code (ENOSPC, EACCES, ...), when there is one. */
  readonly code?: string;
  constructor(
    message: string,
    context: Record<string, unknown> & { code?: string },
    options?: { cause?: unknown },
  ) {
    super(message, context, options);
    if (context.code !== undefined) this.code = context.code;
  }
}

/**
 * The kernel refused another inotify watch (ENOSPC). The watcher has stopped; the folder can only
 * be kept in sync by periodic reconciliation until the limit is raised and the daemon restarted.
 */
export class WatchLimitError extends WatchError {}

/** The sysctl that bounds inotify watches per user; one watch is needed per watched file and directory. */
export const INOTIFY_WATCHES_SYSCTL = 'fs.inotify.max_user_watches';
const INOTIFY_WATCHES_PROC = '/proc/sys/fs/inotify/max_user_watches';

/** The chokidar entry point; injectable so tests can drive the error path of a real FSWatcher. */
export type ChokidarWatchFn = (paths: string, options: ChokidarOptions) => FSWatcher;

/**
 * Starts watching `options.root` with the given backend. The parcel backend does not follow
 * symlinked directories, so a folder with followSymlinks uses chokidar.
 */
export function createWatcher(backend: WatchBackend, options: WatchOptions): FolderWatcher {
  if (backend === 'parcel' && options.followSymlinks !== true) return createParcelWatcher(options);
  return createChokidarWatcher(options);
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
    { ...context, ...(limit === undefined ? {} : { maxUserWatches: limit }) },
    { cause },
  );
}

/** Starts a chokidar watcher behind the FolderWatcher interface (see createWatcher). */
export function createChokidarWatcher(
  options: WatchOptions,
  watchFn: ChokidarWatchFn = chokidarWatch,
): FolderWatcher {
  const { filter, onEvents, onError } = options;
  const followSymlinks = options.followSymlinks ?? false;
  const logger = options.logger.child({ component: 'watch', root: options.root });

  let fsw: FSWatcher | undefined;
  let stopped = false;
  let closePromise: Promise<void> | undefined;
  let batch: WatchEvent[] = [];
  let flushScheduled: NodeJS.Immediate | undefined;

  let markReady!: () => void;
  const readyPromise = new Promise<void>((resolve) => {
    markReady = resolve;
  });

  // Delivers nothing more from now on; synchronous, unlike closing chokidar.
  const halt = (): void => {
    stopped = true;
    batch = [];
    if (flushScheduled !== undefined) clearImmediate(flushScheduled);
    flushScheduled = undefined;
  };

  const stop = (): Promise<void> => {
    if (closePromise !== undefined) return closePromise;
    halt();
    const watcher = fsw;
    fsw = undefined;
    closePromise = (watcher === undefined ? Promise.resolve() : watcher.close()).finally(markReady);
    return closePromise;
  };

  const flush = (): void => {
    flushScheduled = undefined;
    if (stopped || batch.length === 0) return;
    const events = batch;
    batch = [];
    onEvents(events);
  };

  const push = (event: WatchEvent): void => {
    if (stopped) return;
    batch.push(event);
    flushScheduled ??= setImmediate(flush);
  };

  const start = async (): Promise<void> => {
    // Watch the real path: with followSymlinks off, chokidar would treat a symlinked root as a
    // link and not descend into it. Relative paths are the same either way.
    let root: string;
    try {
      root = await fs.realpath(options.root);
    } catch (err) {
      const code = errorCode(err);
      fail(
        new WatchError(
          `cannot watch ${options.root}: ${code ?? String(err)}`,
          { root: options.root, ...codeOf(code) },
          { cause: err },
        ),
      );
      return;
    }
    if (stopped) return;

    const relative = (abs: string): string | undefined => {
      const rel = path.relative(root, abs);
      if (rel === '..' || rel.startsWith('..' + path.sep) || path.isAbsolute(rel)) return undefined;
      return path.sep === '/' ? rel : rel.split(path.sep).join('/');
    };

    const ignored = (abs: string, stats?: Stats): boolean => {
      const rel = relative(abs);
      if (rel === undefined || rel === '') return false;
      if (stats?.isDirectory()) return !filter.mayContain(rel);
      if (stats?.isFile()) return !filter.matchesFile(rel);
      // Unknown type (no stats yet, or a link we do not follow): keep it if either reading allows.
      return !filter.matchesFile(rel) && !filter.mayContain(rel);
    };

    const watcher = watchFn(root, {
      ignored,
      followSymlinks,
      ignoreInitial: true,
      persistent: true,
      // No awaitWriteFinish: the consumer debounces per path, and polling every new file would
      // cost a stat loop per file during a large copy. `atomic` stays at its default (on), which
      // turns an editor's unlink+add of the same path into one 'change'; note it also drops
      // vim-style swap and "~" paths, which DEFAULT_EXCLUDES drops anyway.
    });
    fsw = watcher;

    watcher.on('all', (event, absPath) => {
      const rel = relative(absPath);
      if (rel === undefined) return;
      switch (event) {
        case 'add':
        case 'change':
          if (filter.matchesFile(rel)) push({ type: 'change', path: rel });
          break;
        case 'unlink':
          if (filter.matchesFile(rel)) push({ type: 'unlink', path: rel });
          break;
        case 'addDir':
          if (rel !== '' && filter.mayContain(rel)) push({ type: 'dir', path: rel });
          break;
        case 'unlinkDir':
          if (rel === '' || filter.mayContain(rel)) push({ type: 'unlink-dir', path: rel });
          break;
      }
    });

    watcher.on('error', (err: unknown) => {
      if (stopped) return;
      const code = errorCode(err);
      const errPath = pathOf(err);
      const rel = errPath === undefined ? undefined : relative(errPath);
      const context = { root: options.root, ...codeOf(code), ...(rel === undefined ? {} : { path: rel }) };
      if (code === 'ENOSPC') {
        void stopForWatchLimit(context, err);
        return;
      }
      const message = err instanceof Error ? err.message : String(err);
      logger.debug({ err, code, path: rel }, 'watcher error');
      onError(new WatchError(`watcher error in ${options.root}: ${message}`, context, { cause: err }));
    });

    watcher.on('ready', () => {
      if (stopped) return;
      logger.debug({ watched: countWatched(watcher) }, 'watcher ready');
      markReady();
    });
  };

  const fail = (err: WatchError): void => {
    if (stopped) return;
    halt();
    try {
      onError(err);
    } finally {
      void stop();
    }
  };

  const stopForWatchLimit = async (context: Record<string, unknown>, cause: unknown): Promise<void> => {
    // Halt first so that the burst of ENOSPC errors that follows the first one is not reported;
    // close after onError so that ready() never resolves before the caller has heard why.
    halt();
    const err = await watchLimitError(options.root, context, cause);
    logger.warn(
      { code: 'ENOSPC', maxUserWatches: err.context.maxUserWatches },
      'inotify watch limit reached; watcher stopped',
    );
    try {
      onError(err);
    } finally {
      await stop().catch((closeErr: unknown) =>
        logger.debug({ err: closeErr }, 'closing the watcher failed'),
      );
    }
  };

  start().catch((err: unknown) => {
    fail(
      new WatchError(`cannot watch ${options.root}: ${String(err)}`, { root: options.root }, { cause: err }),
    );
  });

  return {
    ready: () => readyPromise,
    close: () => stop(),
    watchedCount: () => (fsw === undefined ? 0 : countWatched(fsw)),
  };
}

/**
 * Lists the files under `relDir` (relative to `root`) that the filter accepts, recursively, as
 * relative POSIX paths. For the 'dir' event: chokidar misses files created right after their
 * directory. Symlinks are skipped unless followed; a vanished or unreadable directory lists as
 * empty (reconciliation catches what a listing misses).
 */
export async function listDir(
  root: string,
  relDir: string,
  filter: WatchFilter,
  options: { followSymlinks?: boolean } = {},
): Promise<string[]> {
  const follow = options.followSymlinks ?? false;
  const files: string[] = [];
  const abs = (rel: string): string => (rel === '' ? root : path.join(root, rel));

  // `seen` holds the identities of the directories above, to stop symlink loops when following.
  const walk = async (rel: string, seen: ReadonlySet<string>): Promise<void> => {
    let nextSeen = seen;
    if (follow) {
      let st: Stats;
      try {
        st = await fs.stat(abs(rel));
      } catch {
        return;
      }
      const id = `${st.dev}:${st.ino}`;
      if (seen.has(id)) return;
      nextSeen = new Set(seen).add(id);
    }
    let dirents;
    try {
      dirents = await fs.readdir(abs(rel), { withFileTypes: true });
    } catch {
      return;
    }
    const subdirs: string[] = [];
    for (const d of dirents) {
      const child = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) {
        if (filter.mayContain(child)) subdirs.push(child);
      } else if (d.isFile()) {
        if (filter.matchesFile(child)) files.push(child);
      } else if (d.isSymbolicLink() && follow) {
        let target: Stats;
        try {
          target = await fs.stat(abs(child));
        } catch {
          continue; // dangling or looping link
        }
        if (target.isDirectory()) {
          if (filter.mayContain(child)) subdirs.push(child);
        } else if (target.isFile() && filter.matchesFile(child)) {
          files.push(child);
        }
      }
    }
    await Promise.all(subdirs.map((dir) => walk(dir, nextSeen)));
  };

  const start = relDir.replace(/^\/+|\/+$/g, '');
  if (start !== '' && !filter.mayContain(start)) return [];
  await walk(start, new Set());
  return files;
}

function countWatched(watcher: FSWatcher): number {
  let n = 0;
  for (const children of Object.values(watcher.getWatched())) n += children.length;
  return n;
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

function pathOf(err: unknown): string | undefined {
  const p = (err as { path?: unknown } | null)?.path;
  return typeof p === 'string' ? p : undefined;
}

function codeOf(code: string | undefined): { code?: string } {
  return code === undefined ? {} : { code };
}
