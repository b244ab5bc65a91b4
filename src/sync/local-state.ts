/**
 * What a pass knows of the local folder before it plans: a full scan with hashes of what changed
 * (a reconciliation), or a stat and hash of just the paths a watcher batch names (plus the
 * tracked paths they may have been renamed from). Neither ever reads "missing" into "deleted"
 * when the root or a directory could not be read.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { LocalEntry, ManifestEntry, PendingUpload } from '../types.js';
import type { PathFilter } from '../local/filter.js';
import { scanFolder, statEntry, type ScanResult } from '../local/scan.js';
import type { PendingScan } from '../local/scan-thread.js';
import { hashFile } from '../local/hash.js';
import { hashPool } from '../local/hash-pool.js';
import { errorMessage } from '../errors.js';
import { onAbort } from '../util/child-abort.js';
import { mapLimit } from './map-limit.js';
import { MAX_UPLOAD_BYTES, moveSources, needsHash } from './plan.js';

/** Files a full scan hashes at once. */
const HASH_CONCURRENCY = 4;
/** Paths stat'ed and hashed at once by a watcher batch: a burst of 100k events must not open 100k files. */
const CHECK_CONCURRENCY = 16;

/** A path left out of the plan's local view, and why (scan skips, hash failures, special files). */
export interface LocalSkip {
  path: string;
  reason: string;
  detail?: string | undefined;
}

/** What a full scan reports as it goes, for progress displays. */
export type ScanProgress =
  | { phase: 'scanning' }
  | { phase: 'hashing'; files: number; bytes: number }
  | { phase: 'hashed'; bytes: number }
  | { phase: 'listing' };

export interface LocalSource {
  root: string;
  filter: PathFilter;
  followSymlinks: boolean;
  manifest: {
    get(path: string): ManifestEntry | undefined;
    has(path: string): boolean;
    entries(): IterableIterator<[string, ManifestEntry]>;
    pendingUploads(): PendingUpload[];
  };
  logger: Logger;
  signal?: AbortSignal | undefined;
  onProgress?: ((event: ScanProgress) => void) | undefined;
  /** A full scan's walk started already (`startThreadScan`), e.g. while the session opened. */
  scan?: PendingScan | undefined;
}

export interface LocalState {
  /** Local files in view; hashed where the plan needs a hash. */
  local: Map<string, LocalEntry>;
  /** Paths that exist but could not be read: never taken as deleted. */
  unreadable: Set<string>;
  /** Directories that could not be listed: nothing under them is taken as deleted. */
  unreadableDirs: string[];
  skipped: LocalSkip[];
  hashed: number;
  /** Files the full scan found; undefined for a batch (the delete guard's empty-folder rule needs a full scan). */
  localFiles?: number | undefined;
  /** A batch's scope: its paths that pass the filter, then the tracked paths they may have moved from. */
  scope?: string[] | undefined;
  /** Batch paths read without trouble (a warning about them can be given again if they break). */
  readable: string[];
  /** Batch paths that changed while being checked: look again later. */
  retry: string[];
}

/** The folder root is missing or unreadable: the pass must change nothing. */
export interface RootUnavailable {
  unavailable: string;
}

function absPath(root: string, relPath: string): string {
  return path.join(root, ...relPath.split('/'));
}

/**
 * The walk of a full scan: the one started ahead on its thread (`LocalSource.scan`), else one here.
 * A walk on a thread pays only when it overlaps the state's read (the one-shot sync's, and a
 * daemon start's once its watcher is ready): started after it (the daemon's later
 * reconciliations), it took longer than here (the thread's start, the entries sent across, both
 * cores already busy with the listing and the watcher).
 */
async function localScan(src: LocalSource): Promise<ScanResult> {
  const pending = src.scan;
  const walkHere = (): Promise<ScanResult> =>
    scanFolder(src.root, {
      filter: src.filter,
      followSymlinks: src.followSymlinks,
      ...(src.signal ? { signal: src.signal } : {}),
    });
  if (pending === undefined) return await walkHere();
  const release = onAbort(src.signal, (reason) => pending.cancel(reason));
  try {
    return await pending.result;
  } catch (err) {
    // Started earlier, it may have met a root gone for a moment (a remount) or a thread's own
    // failure: what counts is the folder now, so a walk that failed is made again here.
    if (src.signal?.aborted === true) throw err;
    src.logger.debug(
      { root: src.root, err: errorMessage(err) },
      'the walk started ahead failed; walking again',
    );
    return await walkHere();
  } finally {
    release();
  }
}

/**
 * Scans the whole folder and hashes only what is new or whose stat changed, plus anything with a
 * pending intent to resolve. A file that changes or vanishes while hashing is left out and
 * marked unreadable (so it is not deleted) and looked at by the next pass.
 */
export async function scanAll(src: LocalSource): Promise<LocalState | RootUnavailable> {
  const intents = new Set(src.manifest.pendingUploads().map((p) => p.path));
  const wantsHash = (l: LocalEntry): boolean =>
    needsHash(l, src.manifest.get(l.path)) || (intents.has(l.path) && l.size <= MAX_UPLOAD_BYTES);
  // A walk on its thread is compared with the state batch by batch as it arrives: the main thread
  // is often idle for the walk's last stretch, and at 100k files this was ~0.15 s after it.
  let compared: { entries: ReadonlyMap<string, LocalEntry>; toHash: LocalEntry[] } | undefined;
  let comparing = true;
  src.scan?.follow((added, into) => {
    if (!comparing) return;
    try {
      if (compared?.entries !== into) compared = { entries: into, toHash: [] };
      for (const l of added) if (wantsHash(l)) compared.toHash.push(l);
    } catch {
      // The state closed under the walk, say: compared again below, where a failure is reported.
      comparing = false;
      compared = undefined;
    }
  });
  let scan;
  src.onProgress?.({ phase: 'scanning' });
  try {
    scan = await localScan(src);
  } catch (err) {
    // A missing or unreadable root must never look like "every file was deleted".
    const message = errorMessage(err);
    // Stopped on purpose (a stop, Ctrl-C, a refused key): the folder itself is fine, say nothing of it.
    if (src.signal?.aborted !== true)
      src.logger.error({ root: src.root, err: message }, 'folder unavailable; nothing changed, no deletes');
    return { unavailable: message };
  }

  // The walk's own map, filled in place as files are hashed: a walk is used by one pass only, and
  // a copy cost 100k insertions on the main thread of every full pass.
  const local = scan.entries;
  const localFiles = local.size;
  const unreadable = new Set<string>();
  for (const s of scan.skipped)
    if (s.reason === 'unreadable' || s.reason === 'vanished') unreadable.add(s.path);

  // Compared as it arrived when this is the map the batches filled; else (a walk made here) now.
  let toHash: LocalEntry[];
  if (compared?.entries === local) toHash = compared.toHash;
  else {
    toHash = [];
    for (const l of local.values()) if (wantsHash(l)) toHash.push(l);
  }
  // An upload begun during the walk left an intent the files were not compared with. Asked by
  // identity, not by comparing the entry again: it may have changed since the batch was compared.
  for (const { path: p } of src.manifest.pendingUploads()) {
    const l = local.get(p);
    if (!intents.has(p) && l !== undefined && l.size <= MAX_UPLOAD_BYTES && !toHash.includes(l))
      toHash.push(l);
  }
  let hashed = 0;
  const hashSkipped: LocalSkip[] = [];
  src.onProgress?.({ phase: 'hashing', files: toHash.length, bytes: toHash.reduce((n, l) => n + l.size, 0) });
  await mapLimit(toHash, HASH_CONCURRENCY, async (l) => {
    try {
      // On the pool's threads: every core hashes, and a read costs no thread-pool round trip.
      const h = await hashPool.hash(
        absPath(src.root, l.path),
        { size: l.size, mtimeMs: l.mtimeMs, ino: l.ino },
        src.signal,
      );
      hashed++;
      local.set(l.path, { ...l, sha256: h.sha256 });
      src.onProgress?.({ phase: 'hashed', bytes: l.size });
    } catch (err) {
      local.delete(l.path);
      unreadable.add(l.path);
      hashSkipped.push({ path: l.path, reason: 'changed-or-unreadable', detail: errorMessage(err) });
    }
  });
  return {
    local,
    unreadable,
    unreadableDirs: scan.unreadableDirs,
    skipped: [...scan.skipped, ...hashSkipped],
    hashed,
    localFiles,
    readable: [],
    retry: [],
  };
}

/**
 * Stats (and where the stat changed, hashes) the batch's paths that pass the filter, then the
 * tracked paths outside the batch that a new path may have been renamed from (`moveSources`).
 */
export async function checkPaths(
  src: LocalSource,
  paths: readonly string[],
): Promise<LocalState | RootUnavailable> {
  // A vanished root must not turn into "delete everything".
  const rootOk = await fs.stat(src.root).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!rootOk) {
    src.logger.error({ root: src.root }, 'folder root unavailable; holding all changes until it is back');
    return { unavailable: `folder root ${src.root} is missing or not a directory` };
  }
  const state: LocalState = {
    local: new Map(),
    unreadable: new Set(),
    unreadableDirs: [],
    skipped: [],
    hashed: 0,
    readable: [],
    retry: [],
  };
  const scope = paths.filter((p) => src.filter.matchesFile(p));
  await mapLimit(scope, CHECK_CONCURRENCY, (p) => checkPath(src, p, state));
  const sources = moveSources(state.local, src.manifest.entries(), new Set(scope), (p) =>
    src.manifest.has(p),
  );
  await mapLimit(sources, CHECK_CONCURRENCY, (p) => checkPath(src, p, state));
  state.scope = [...scope, ...sources];
  return state;
}

/** Stats one path into `state.local` (hashing it when its stat differs from the manifest), or marks it unreadable. */
async function checkPath(src: LocalSource, p: string, state: LocalState): Promise<void> {
  try {
    const st = await statEntry(src.root, p, { followSymlinks: src.followSymlinks });
    if (st === null) return; // gone
    if (!('mtimeMs' in st)) {
      state.unreadable.add(p); // symlink, special file, unreadable: never treated as removed
      state.skipped.push(st);
      return;
    }
    if (needsHash(st, src.manifest.get(p))) {
      const h = await hashFile(absPath(src.root, p), {
        expected: { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino },
      });
      state.hashed++;
      state.local.set(p, { ...st, sha256: h.sha256 });
    } else {
      state.local.set(p, st);
    }
    state.readable.push(p);
  } catch (err) {
    state.unreadable.add(p);
    src.logger.debug({ path: p, err: errorMessage(err) }, 'changed while checking; will look again');
    state.retry.push(p);
  }
}
