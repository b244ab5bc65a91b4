import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createPathFilter, type PathFilterOptions } from '../../src/local/filter.js';
import { createChokidarWatcher, type ChokidarWatchFn } from '../../src/local/watch-chokidar.js';
import {
  createWatcher,
  listDir,
  type FolderWatcher,
  type WatchEvent,
  type WatchFilter,
  type WatchBackend,
} from '../../src/local/watch.js';
import { silentLogger } from '../../src/log.js';

/** A watcher under test plus everything it reported, as a consumer would see it. */
export interface WatchedFolder {
  root: string;
  watcher: FolderWatcher;
  filter: WatchFilter;
  events: WatchEvent[];
  errors: Array<Error & { code?: string }>;
  /** Files the consumer would check: 'change' paths plus what listDir found on each 'dir' event. */
  found: Set<string>;
  /** Paths reported with this event type. */
  paths(type: WatchEvent['type']): Set<string>;
}

const cleanups: Array<() => Promise<void>> = [];

/** A fresh empty directory under os.tmpdir(), removed by cleanupAll(). */
export async function tempDir(prefix = 'files-sync-watch-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts a watcher on `root` that records its events the way the folder loop consumes them. */
export function watchFolder(
  root: string,
  options: {
    filter?: PathFilterOptions;
    followSymlinks?: boolean;
    watchFn?: ChokidarWatchFn;
    backend?: WatchBackend;
  } = {},
): WatchedFolder {
  const filter = createPathFilter(options.filter ?? {});
  const events: WatchEvent[] = [];
  const errors: Array<Error & { code?: string }> = [];
  const found = new Set<string>();
  const followSymlinks = options.followSymlinks ?? false;
  const watchOptions = {
    root,
    filter,
    // Left out unless given, so that tests exercise the watcher's own default.
    ...(options.followSymlinks === undefined ? {} : { followSymlinks: options.followSymlinks }),
    logger: silentLogger(),
    onError: (err: Error & { code?: string }) => errors.push(err),
    onEvents: (batch: WatchEvent[]) => {
      for (const e of batch) {
        events.push(e);
        if (e.type === 'change') found.add(e.path);
        if (e.type === 'dir') {
          void listDir(root, e.path, filter, { followSymlinks }).then((files) => {
            for (const f of files) found.add(f);
          });
        }
      }
    },
  };
  const watcher =
    options.watchFn === undefined
      ? createWatcher(options.backend ?? 'chokidar', watchOptions)
      : createChokidarWatcher(watchOptions, options.watchFn);
  cleanups.push(() => watcher.close());
  return {
    root,
    watcher,
    filter,
    events,
    errors,
    found,
    paths: (type) => new Set(events.filter((e) => e.type === type).map((e) => e.path)),
  };
}

/** Closes every watcher and removes every temp directory created since the last call. */
export async function cleanupAll(): Promise<void> {
  const pending = cleanups.splice(0).reverse();
  for (const c of pending) await c();
}
