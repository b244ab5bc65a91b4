// Picks a watcher backend for a folder; the one module the rest of files-sync imports for watching.
/**
 * How the watcher files fit (no module imports this one, so there is no cycle):
 * - watch-types.ts: the event, FolderWatcher, options and errors every backend shares;
 * - watch-lifecycle.ts: ready/stop/fail and the inotify-limit (ENOSPC) handling, written once;
 * - watch-chokidar.ts, watch-parcel.ts: one backend each, only what differs;
 * - list-dir.ts: the directory listing a consumer does on a 'dir' event.
 */
import { createChokidarWatcher } from './watch-chokidar.js';
import { createParcelWatcher } from './watch-parcel.js';
import type { FolderWatcher, WatchBackend, WatchOptions } from './watch-types.js';

export { listDir } from './list-dir.js';
export {
  WatchError,
  WatchLimitError,
  type FolderWatcher,
  type WatchBackend,
  type WatchEvent,
  type WatchFilter,
  type WatchOptions,
} from './watch-types.js';

/**
 * The backend a folder really gets: parcel does not follow symlinked directories, so a folder
 * with followSymlinks uses chokidar.
 */
export function effectiveBackend(backend: WatchBackend, followSymlinks: boolean | undefined): WatchBackend {
  return backend === 'parcel' && followSymlinks === true ? 'chokidar' : backend;
}

/** Starts watching `options.root` with the backend `effectiveBackend` picks. */
export function createWatcher(backend: WatchBackend, options: WatchOptions): FolderWatcher {
  return effectiveBackend(backend, options.followSymlinks) === 'parcel'
    ? createParcelWatcher(options)
    : createChokidarWatcher(options);
}
