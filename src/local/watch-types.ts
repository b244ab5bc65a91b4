// What every watcher backend shares with its consumer: the event, the watcher interface, options and errors.
import type { Logger } from 'pino';
import { FilesSyncError } from '../errors.js';
import type { PathFilter } from './filter.js';

/**
 * One raw file-system change, relative to the folder root (POSIX separators). The consumer stats
 * the path anyway, so the type is a hint: 'change' covers creation too; 'dir' asks the consumer
 * to re-list that directory; 'unlink-dir' means anything under it may be gone ('' is the root).
 */
export interface WatchEvent {
  type: 'change' | 'unlink' | 'dir' | 'unlink-dir';
  path: string;
  /**
   * How long the change is known to have been quiet when delivered: a backend that holds events
   * back until they settle says so, and the consumer's quiet period counts it (see watch-parcel).
   */
  quietMs?: number;
  /** The file's inode, when the backend stat'ed it ('change'): pairs the two halves of a rename. */
  ino?: number;
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
