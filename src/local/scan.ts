// Walks a folder: every regular file the filter accepts, and every path it skipped with the reason.
import { lstatSync, promises as nodePromises } from 'node:fs';
import path from 'node:path';
import { FilesSyncError } from '../errors.js';
import type { LocalEntry } from '../types.js';
import { isValidUtf8Name, renderRawName } from './display-name.js';
import type { PathFilter } from './filter.js';

/** The file-type checks that both stat results and directory entries offer. */
export interface FileTypeLike {
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isBlockDevice(): boolean;
  isCharacterDevice(): boolean;
}

/** The part of a stat result the scanner reads (node:fs and memfs both provide it). */
export interface StatsLike extends FileTypeLike {
  size: number;
  mtimeMs: number;
  ino: number;
  dev: number;
}

/** The part of a directory entry the scanner reads. */
export interface DirentLike<Name = string> extends FileTypeLike {
  name: Name;
}

/** The subset of the node:fs promises API the scanner uses, so tests can pass memfs. */
export interface FsLike {
  lstat(path: string): Promise<StatsLike>;
  stat(path: string): Promise<StatsLike>;
  readdir(path: string, options: { withFileTypes: true }): Promise<DirentLike[]>;
  readdir(path: string, options: { withFileTypes: true; encoding: 'buffer' }): Promise<DirentLike<Buffer>[]>;
  /**
   * When present, the files of a directory are lstat'ed with it in one go: on a local disk a
   * synchronous lstat costs a quarter of the CPU of a promise round trip through the thread pool.
   */
  lstatSync?(path: string): StatsLike;
}

/** node:fs: the promises API, and lstatSync for the files of a directory (see SYNC_STAT_BUDGET_MS). */
const nodeFs: FsLike = {
  lstat: (p) => nodePromises.lstat(p),
  stat: (p) => nodePromises.stat(p),
  readdir: nodePromises.readdir,
  lstatSync: (p) => lstatSync(p),
};

/**
 * Synchronous lstats of SYNC_STAT_STRETCH files (or a smaller directory's files) that take longer
 * than this (a network mount, a cold disk: > ~200 us each where a cached local lstat takes ~4 us)
 * count as slow; after SYNC_STAT_STRIKES slow stretches the scan goes asynchronous for the rest:
 * the event loop must not stall on a slow file system. One slow stretch is not enough, since on a
 * busy machine the process may simply have been preempted in the middle of one.
 */
const SYNC_STAT_BUDGET_MS = 50;
const SYNC_STAT_STRETCH = 256;
const SYNC_STAT_STRIKES = 3;

export interface ScanOptions {
  filter: PathFilter;
  /** Follow symbolic links (with loop detection); default false: they are reported as skipped. */
  followSymlinks?: boolean;
  /** How many readdir/lstat calls may be in flight; default 16. */
  concurrency?: number;
  /** node:fs promises by default. */
  fs?: FsLike;
  signal?: AbortSignal;
  /**
   * The map the walk fills and returns as `entries`, for a caller that reads it while the walk
   * goes on (a scan thread sends it in batches). Entries are only ever added, in walk order.
   */
  found?: Map<string, LocalEntry>;
}

/** Options of a single-path check; the filter is the caller's business there. */
export type StatEntryOptions = Pick<ScanOptions, 'followSymlinks' | 'fs'>;

export type SkipReason =
  'symlink' | 'special' | 'unreadable' | 'too-large' | 'symlink-loop' | 'vanished' | 'invalid-name';

/** The detail of an 'invalid-name' skip; its path is the name rendered with the bad bytes as \xNN. */
export const INVALID_NAME_DETAIL = 'name is not valid UTF-8; rename it';

/** A path the scanner saw but did not report as a file, and why. */
export interface SkippedPath {
  path: string;
  reason: SkipReason;
  detail?: string;
}

export interface ScanResult {
  /** Regular files that pass the filter, keyed by relative POSIX path. */
  entries: Map<string, LocalEntry>;
  skipped: SkippedPath[];
  /** Directories listed. */
  dirs: number;
  /**
   * Relative paths (directories, or a file whose stat was refused) whose content could not be
   * read. Absence of a path equal to or under one of these means "unknown", not "deleted".
   */
  unreadableDirs: string[];
}

/** The folder root is missing, not a directory, or unreadable; deletes must be held. */
export class FolderUnavailableError extends FilesSyncError {}

const DEFAULT_CONCURRENCY = 16;

/** Walks a folder and returns every regular file the filter accepts, plus what it skipped and why. */
export async function scanFolder(root: string, options: ScanOptions): Promise<ScanResult> {
  const fs: FsLike = options.fs ?? nodeFs;
  const { filter, signal } = options;
  const follow = options.followSymlinks ?? false;
  signal?.throwIfAborted();
  await checkRoot(fs, root);

  const result: ScanResult = {
    entries: options.found ?? new Map(),
    skipped: [],
    dirs: 0,
    unreadableDirs: [],
  };
  let statSync = fs.lstatSync?.bind(fs);
  let slowStretches = 0;
  const endStretch = (startedAt: number): void => {
    if (performance.now() - startedAt > SYNC_STAT_BUDGET_MS && ++slowStretches >= SYNC_STAT_STRIKES)
      statSync = undefined;
  };
  const pool = new TaskPool(Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY), signal);
  const abs = (rel: string): string => (rel === '' ? root : path.join(root, rel));
  const skip = (p: string, reason: SkipReason, detail?: string): void => {
    result.skipped.push(detail === undefined ? { path: p, reason } : { path: p, reason, detail });
  };
  const unreadable = (p: string, err: unknown): void => {
    skip(p, 'unreadable', errorCode(err));
    result.unreadableDirs.push(p);
  };

  // `chain` holds the identities of the directories above this one; only needed (and only
  // filled) when following links, since without links a walk cannot revisit a directory.
  const enterDir = async (rel: string, chain: DirChain | undefined, known?: StatsLike): Promise<void> => {
    let nextChain = chain;
    if (follow) {
      let st = known;
      if (st === undefined) {
        try {
          st = await fs.stat(abs(rel));
        } catch (err) {
          if (isGone(err)) skip(rel, 'vanished', errorCode(err));
          else unreadable(rel, err);
          return;
        }
      }
      const id = `${st.dev}:${st.ino}`;
      if (chainHas(chain, id)) {
        skip(rel, 'symlink-loop', `leads back to an ancestor directory`);
        return;
      }
      nextChain = { id, parent: chain };
    }
    const dirAbs = abs(rel);
    // The children's absolute paths by concatenation: a path.join per file (it normalises the
    // whole path again) cost the walk more than a sixth of its time at 100k files.
    const dirPrefix = dirAbs.endsWith(path.sep) ? dirAbs : dirAbs + path.sep;
    let dirents: DirentLike[];
    try {
      dirents = await fs.readdir(dirAbs, { withFileTypes: true });
      // Node decodes names lossily: bytes that are not UTF-8 become U+FFFD, so such a name cannot
      // be opened by the string we were given and two of them can decode alike. Rare, so only
      // then is the directory read again as raw bytes to tell them apart.
      if (dirents.some((d) => d.name.includes('\uFFFD'))) {
        const raw = await fs.readdir(dirAbs, { withFileTypes: true, encoding: 'buffer' });
        dirents = [];
        for (const d of raw) {
          if (isValidUtf8Name(d.name)) dirents.push(withStringName(d));
          else {
            const shown = rel === '' ? renderRawName(d.name) : `${rel}/${renderRawName(d.name)}`;
            if (d.isDirectory() ? filter.mayContain(shown) : filter.matchesFile(shown))
              skip(shown, 'invalid-name', INVALID_NAME_DETAIL);
          }
        }
      }
    } catch (err) {
      if (rel === '') throw unavailable(root, err);
      if (isGone(err)) skip(rel, 'vanished', errorCode(err));
      else unreadable(rel, err);
      return;
    }
    result.dirs++;
    let stretchStarted = statSync === undefined ? 0 : performance.now();
    let statted = 0;
    for (const d of dirents) {
      const child = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) {
        if (filter.mayContain(child)) pool.add(() => enterDir(child, nextChain));
      } else if (d.isFile()) {
        if (!filter.matchesFile(child)) continue;
        if (statSync === undefined) pool.add(() => visitFile(child, nextChain));
        else {
          let st: StatsLike | undefined;
          try {
            st = statSync(dirPrefix + d.name);
          } catch {
            // Rare (vanished, refused): the asynchronous path sorts out which, as for any file.
          }
          if (st?.isFile() === true) result.entries.set(child, toEntry(child, st));
          else pool.add(() => visitFile(child, nextChain));
          if (++statted % SYNC_STAT_STRETCH === 0) {
            endStretch(stretchStarted);
            stretchStarted = performance.now();
          }
        }
      } else if (d.isSymbolicLink()) {
        if (filter.matchesFile(child) || filter.mayContain(child))
          pool.add(() => visitSymlink(child, nextChain));
      } else if (filter.matchesFile(child)) {
        skip(child, 'special', specialKind(d));
      }
    }
    if (statSync !== undefined && statted % SYNC_STAT_STRETCH !== 0) endStretch(stretchStarted);
  };

  const visitFile = async (rel: string, chain: DirChain | undefined): Promise<void> => {
    let st: StatsLike;
    try {
      st = await fs.lstat(abs(rel));
    } catch (err) {
      if (isGone(err)) skip(rel, 'vanished', errorCode(err));
      else unreadable(rel, err);
      return;
    }
    // The path may have changed type between readdir and lstat.
    if (st.isFile()) result.entries.set(rel, toEntry(rel, st));
    else if (st.isDirectory()) {
      if (filter.mayContain(rel)) await enterDir(rel, chain);
    } else if (st.isSymbolicLink()) await visitSymlink(rel, chain);
    else skip(rel, 'special', specialKind(st));
  };

  const visitSymlink = async (rel: string, chain: DirChain | undefined): Promise<void> => {
    if (!follow) {
      skip(rel, 'symlink');
      return;
    }
    let target: StatsLike;
    try {
      target = await fs.stat(abs(rel));
    } catch (err) {
      const code = errorCode(err);
      if (code === 'ELOOP') skip(rel, 'symlink-loop', code);
      else if (isGone(err)) skip(rel, 'symlink', `dangling (${code ?? 'unknown'})`);
      else unreadable(rel, err);
      return;
    }
    if (target.isFile()) {
      if (filter.matchesFile(rel)) result.entries.set(rel, toEntry(rel, target));
    } else if (target.isDirectory()) {
      if (filter.mayContain(rel)) await enterDir(rel, chain, target);
    } else if (filter.matchesFile(rel)) {
      skip(rel, 'special', specialKind(target));
    }
  };

  pool.add(() => enterDir('', undefined));
  await pool.drain();
  return result;
}

/**
 * Checks one path for the watcher: its entry, why it is skipped, or null when no regular file
 * is there (missing, or a directory). Throws FolderUnavailableError when the root itself is gone,
 * so a vanished mount never reads as "every file deleted".
 */
export async function statEntry(
  root: string,
  relPath: string,
  options: StatEntryOptions = {},
): Promise<LocalEntry | SkippedPath | null> {
  const fs: FsLike = options.fs ?? nodeFs;
  const abs = path.join(root, relPath);
  let st: StatsLike;
  try {
    st = await fs.lstat(abs);
  } catch (err) {
    if (isGone(err)) {
      await checkRoot(fs, root);
      return await undecodableName(fs, root, relPath);
    }
    return { path: relPath, reason: 'unreadable', ...detailOf(errorCode(err)) };
  }
  if (st.isSymbolicLink()) {
    if (options.followSymlinks !== true) return { path: relPath, reason: 'symlink' };
    try {
      st = await fs.stat(abs);
    } catch (err) {
      const code = errorCode(err);
      if (code === 'ELOOP') return { path: relPath, reason: 'symlink-loop', detail: code };
      if (isGone(err)) return { path: relPath, reason: 'symlink', detail: `dangling (${code ?? 'unknown'})` };
      return { path: relPath, reason: 'unreadable', ...detailOf(code) };
    }
  }
  if (st.isFile()) return toEntry(relPath, st);
  if (st.isDirectory()) return null;
  return { path: relPath, reason: 'special', detail: specialKind(st) };
}

/**
 * A watcher hands over names decoded lossily, so a name that is not UTF-8 arrives with U+FFFD
 * and cannot be found under that string. Reports it as such (the first raw name that decodes to
 * it; a full scan lists every one) instead of as a path that is simply gone.
 */
async function undecodableName(fs: FsLike, root: string, relPath: string): Promise<SkippedPath | null> {
  const slash = relPath.lastIndexOf('/');
  const base = relPath.slice(slash + 1);
  if (!base.includes('\uFFFD')) return null;
  const dir = slash < 0 ? '' : relPath.slice(0, slash);
  const raw = await fs
    .readdir(dir === '' ? root : path.join(root, dir), { withFileTypes: true, encoding: 'buffer' })
    .catch(() => []);
  const match = raw.find((d) => !isValidUtf8Name(d.name) && d.name.toString('utf8') === base);
  if (match === undefined) return null;
  const shown = dir === '' ? renderRawName(match.name) : `${dir}/${renderRawName(match.name)}`;
  return { path: shown, reason: 'invalid-name', detail: INVALID_NAME_DETAIL };
}

/** True when a statEntry result is a skipped path rather than a file entry. */
export function isSkippedPath(value: LocalEntry | SkippedPath): value is SkippedPath {
  return 'reason' in value;
}

async function checkRoot(fs: FsLike, root: string): Promise<void> {
  let st: StatsLike;
  try {
    st = await fs.stat(root);
  } catch (err) {
    throw unavailable(root, err);
  }
  if (!st.isDirectory()) {
    throw new FolderUnavailableError(`folder root is not a directory: ${root}`, {
      root,
      reason: 'not-a-directory',
    });
  }
}

function unavailable(root: string, err: unknown): FolderUnavailableError {
  const code = errorCode(err);
  const reason = code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : 'unreadable';
  return new FolderUnavailableError(
    `folder root is ${reason}: ${root}`,
    { root, reason, code },
    { cause: err },
  );
}

function toEntry(rel: string, st: StatsLike): LocalEntry {
  return { path: rel, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

/** A raw-name directory entry with its (valid UTF-8) name decoded; the type checks stay the entry's. */
function withStringName(d: DirentLike<Buffer>): DirentLike {
  return {
    name: d.name.toString('utf8'),
    isFile: () => d.isFile(),
    isDirectory: () => d.isDirectory(),
    isSymbolicLink: () => d.isSymbolicLink(),
    isFIFO: () => d.isFIFO(),
    isSocket: () => d.isSocket(),
    isBlockDevice: () => d.isBlockDevice(),
    isCharacterDevice: () => d.isCharacterDevice(),
  };
}

function specialKind(s: Omit<DirentLike, 'name'>): string {
  if (s.isFIFO()) return 'fifo';
  if (s.isSocket()) return 'socket';
  if (s.isBlockDevice()) return 'block-device';
  if (s.isCharacterDevice()) return 'character-device';
  return 'unknown';
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function detailOf(code: string | undefined): { detail?: string } {
  return code === undefined ? {} : { detail: code };
}

/** ENOENT/ENOTDIR mean the path went away (or a parent became a file) while we looked. */
function isGone(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

interface DirChain {
  id: string;
  parent: DirChain | undefined;
}

function chainHas(chain: DirChain | undefined, id: string): boolean {
  for (let c = chain; c !== undefined; c = c.parent) if (c.id === id) return true;
  return false;
}

/**
 * Runs async tasks with at most `limit` in flight; tasks may add more tasks. Last in, first out,
 * so the walk goes depth-first and the queue stays about as long as one directory listing.
 */
class TaskPool {
  private readonly queue: Array<() => Promise<void>> = [];
  private active = 0;
  private failure: { error: unknown } | undefined;
  private settle: { resolve: () => void; reject: (e: unknown) => void } | undefined;

  constructor(
    private readonly limit: number,
    private readonly signal: AbortSignal | undefined,
  ) {}

  add(task: () => Promise<void>): void {
    this.queue.push(task);
    this.pump();
  }

  drain(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.failure !== undefined) {
        reject(this.failure.error);
        return;
      }
      this.settle = { resolve, reject };
      this.pump();
    });
  }

  private pump(): void {
    if (this.failure !== undefined) return;
    while (this.active < this.limit && this.queue.length > 0) {
      if (this.signal?.aborted) {
        this.fail(this.signal.reason);
        return;
      }
      const task = this.queue.pop()!;
      this.active++;
      task().then(
        () => {
          this.active--;
          this.pump();
        },
        (error: unknown) => {
          this.active--;
          this.fail(error);
        },
      );
    }
    if (this.active === 0 && this.queue.length === 0) this.settle?.resolve();
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = { error };
    this.queue.length = 0;
    this.settle?.reject(error);
  }
}
