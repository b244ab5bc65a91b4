// The chokidar watcher backend (pure JS, follows symlinks; one inotify watch per file and directory).
import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { watch as chokidarWatch, type ChokidarOptions, type FSWatcher } from 'chokidar';
import { listSubdirs } from './list-dir.js';
import { codeOf, errorCode, watcherLifecycle } from './watch-lifecycle.js';
import { WatchError, type FolderWatcher, type WatchEvent, type WatchOptions } from './watch-types.js';

/** The chokidar entry point; injectable so tests can drive the error path of a real FSWatcher. */
export type ChokidarWatchFn = (paths: string, options: ChokidarOptions) => FSWatcher;

/**
 * How long after a new directory's event its subtree is checked for subdirectories chokidar never
 * watched: it reads a new directory before it watches it, so a subdirectory made in between
 * (`mkdir -p`, a copy) is never reported, nor is anything written into it later.
 */
const MISSED_SUBDIR_CHECK_MS = 250;

/** Starts a chokidar watcher behind the FolderWatcher interface (see createWatcher). */
export function createChokidarWatcher(
  options: WatchOptions,
  watchFn: ChokidarWatchFn = chokidarWatch,
): FolderWatcher {
  const { filter, onEvents } = options;
  const followSymlinks = options.followSymlinks ?? false;
  const logger = options.logger.child({ component: 'watch', root: options.root });

  let fsw: FSWatcher | undefined;
  let batch: WatchEvent[] = [];
  let flushScheduled: NodeJS.Immediate | undefined;
  /** New directories (relative) whose subtrees are checked once the timer fires. */
  const newDirs = new Set<string>();
  let missedCheck: NodeJS.Timeout | undefined;

  const life = watcherLifecycle({
    root: options.root,
    onError: options.onError,
    logger,
    onHalt: () => {
      batch = [];
      if (flushScheduled !== undefined) clearImmediate(flushScheduled);
      flushScheduled = undefined;
      if (missedCheck !== undefined) clearTimeout(missedCheck);
      missedCheck = undefined;
      newDirs.clear();
    },
    release: () => {
      const watcher = fsw;
      fsw = undefined;
      return watcher === undefined ? Promise.resolve() : watcher.close();
    },
  });

  const flush = (): void => {
    flushScheduled = undefined;
    if (life.stopped || batch.length === 0) return;
    const events = batch;
    batch = [];
    onEvents(events);
  };

  const push = (event: WatchEvent): void => {
    if (life.stopped) return;
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
      await life.fail(
        new WatchError(
          `cannot watch ${options.root}: ${code ?? String(err)}`,
          { root: options.root, ...codeOf(code) },
          { cause: err },
        ),
      );
      return;
    }
    if (life.stopped) return;

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
          if (rel !== '' && filter.mayContain(rel)) {
            push({ type: 'dir', path: rel });
            newDirs.add(rel);
            missedCheck ??= setTimeout(() => void watchMissedSubdirs(), MISSED_SUBDIR_CHECK_MS);
          }
          break;
        case 'unlinkDir':
          if (rel === '' || filter.mayContain(rel)) push({ type: 'unlink-dir', path: rel });
          break;
      }
    });

    /** Watches the subdirectories of new directories that chokidar missed (see MISSED_SUBDIR_CHECK_MS). */
    const watchMissedSubdirs = async (): Promise<void> => {
      missedCheck = undefined;
      const dirs = [...newDirs];
      newDirs.clear();
      if (life.stopped) return;
      // Keys are absolute directories chokidar tracks; one snapshot for every directory checked.
      const watched = watcher.getWatched();
      const missed: string[] = [];
      const visit = async (rel: string): Promise<void> => {
        for (const child of await listSubdirs(root, rel, filter)) {
          if (watched[path.join(root, child)] === undefined) missed.push(child);
          else await visit(child);
        }
      };
      for (const rel of dirs) await visit(rel);
      if (life.stopped || missed.length === 0) return;
      logger.debug({ missed }, 'watching subdirectories of new directories that chokidar missed');
      for (const rel of missed) {
        // add() watches the whole subtree; the 'dir' event has the consumer list what is there by now.
        watcher.add(path.join(root, rel));
        push({ type: 'dir', path: rel });
      }
    };

    watcher.on('error', (err: unknown) => {
      if (life.stopped) return;
      const code = errorCode(err);
      const errPath = pathOf(err);
      const rel = errPath === undefined ? undefined : relative(errPath);
      const context = { root: options.root, ...codeOf(code), ...(rel === undefined ? {} : { path: rel }) };
      if (code === 'ENOSPC') {
        void life.failWatchLimit(context, err);
        return;
      }
      const message = err instanceof Error ? err.message : String(err);
      logger.debug({ err, code, path: rel }, 'watcher error');
      life.report(new WatchError(`watcher error in ${options.root}: ${message}`, context, { cause: err }));
    });

    watcher.on('ready', () => {
      if (life.stopped) return;
      logger.debug({ watched: countWatched(watcher) }, 'watcher ready');
      life.markReady();
    });
  };

  start().catch((err: unknown) => {
    void life.fail(
      new WatchError(`cannot watch ${options.root}: ${String(err)}`, { root: options.root }, { cause: err }),
    );
  });

  return {
    ready: () => life.ready,
    close: () => life.stop(),
    watchedCount: () => (fsw === undefined ? 0 : countWatched(fsw)),
  };
}

function countWatched(watcher: FSWatcher): number {
  let n = 0;
  for (const children of Object.values(watcher.getWatched())) n += children.length;
  return n;
}

function pathOf(err: unknown): string | undefined {
  const p = (err as { path?: unknown } | null)?.path;
  return typeof p === 'string' ? p : undefined;
}
