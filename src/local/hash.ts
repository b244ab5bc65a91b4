// SHA-256 of a local file, checked against the stat it was taken for (a file changing mid-hash is caught).
import { createHash } from 'node:crypto';
import { promises as nodeFs } from 'node:fs';
import { FilesSyncError } from '../errors.js';

/** The stat fields that identify one version of a file. */
export interface FileVersion {
  size: number;
  mtimeMs: number;
  ino: number;
}

/** A content hash together with the version of the file it belongs to. */
export interface FileHash extends FileVersion {
  sha256: string;
}

interface HashStats extends FileVersion {
  isFile(): boolean;
  /** Names of the inode; 0 once it was deleted or replaced by a rename (read-version checks it). */
  nlink?: number;
}

/** An open file as hashFile uses it (node:fs FileHandle or memfs). */
export interface HashFileHandle {
  read(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number | null,
  ): Promise<{ bytesRead: number }>;
  stat(): Promise<HashStats>;
  close(): Promise<void>;
}

/** The subset of the node:fs promises API hashFile uses, so tests can pass memfs. */
export interface HashFs {
  open(path: string, flags: 'r'): Promise<HashFileHandle>;
  stat(path: string): Promise<HashStats>;
}

export interface HashOptions {
  fs?: HashFs;
  signal?: AbortSignal;
  /** The version the caller believes it is hashing (from a scan); any difference throws FileChangedError. */
  expected?: FileVersion;
  /** Called once per completed hash (tests and benchmarks count hashes with it). */
  onHash?: (absPath: string, result: FileHash) => void;
  /** Called after each chunk is read, with the bytes read so far (tests change the file from here). */
  onProgress?: (bytesRead: number) => void | Promise<void>;
}

/** The file changed while (or before) it was hashed; its hash would be stale, so none is returned. */
export class FileChangedError extends FilesSyncError {}

/** Counts every hash computed in this process (benchmarks read it; reset with resetHashCounter). */
export const hashCounter = { files: 0, bytes: 0 };

/** Zeroes hashCounter. */
export function resetHashCounter(): void {
  hashCounter.files = 0;
  hashCounter.bytes = 0;
}

/** 1 MiB reads: measured about 2x faster than the default 64 KiB on this kind of machine. */
export const HASH_CHUNK_BYTES = 1 << 20;

/**
 * Streams a file through SHA-256 and returns the hash with the file's version. Throws
 * FileChangedError if size, mtime or inode moved during the read (checked on the open file and on
 * the path, which catches an atomic-rename save) or differ from `expected`. Errors opening the
 * file (ENOENT, EACCES) propagate unchanged.
 */
export async function hashFile(absPath: string, options: HashOptions = {}): Promise<FileHash> {
  const fs: HashFs = options.fs ?? nodeFs;
  const { signal } = options;
  signal?.throwIfAborted();
  const handle = await fs.open(absPath, 'r');
  let before: FileVersion;
  let after: HashStats;
  let total = 0;
  const hash = createHash('sha256');
  try {
    // With `expected` (a scan's lstat) the stat after the read is the only one needed: a wrong
    // inode, a change since the scan and a write during the read all show in it. One async stat
    // less per file is a measurable share of a first sync's CPU (each costs a thread-pool trip).
    if (options.expected !== undefined) before = options.expected;
    else {
      const st = await handle.stat();
      if (!st.isFile()) throw notRegularFile(absPath);
      before = st;
    }
    // A 1 MiB buffer per file would churn 1 MiB of off-heap memory for every tiny file (tens of
    // GB over a large initial sync, which the allocator is slow to hand back): size it to the file.
    const buffer = Buffer.allocUnsafe(Math.min(HASH_CHUNK_BYTES, Math.max(before.size, 16 * 1024)));
    for (;;) {
      signal?.throwIfAborted();
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      total += bytesRead;
      await options.onProgress?.(total);
      // No read to meet EOF: a file that grew meanwhile shows a new size in the stat below.
      if (total >= before.size) break;
    }
    after = await handle.stat();
    if (!after.isFile()) throw notRegularFile(absPath);
  } catch (err) {
    // Some file systems (network mounts, memfs) fail reads on an unlinked file instead of serving the old inode.
    if ((err as { code?: unknown } | null)?.code === 'ENOENT') {
      throw vanishedWhileHashing(absPath, err);
    }
    throw err;
  } finally {
    await handle.close();
  }
  assertReadWhole(absPath, before, after, total, options.expected !== undefined ? 'expected' : 'open file');
  // A save by rename leaves our descriptor on the old inode: the path must still name what we read.
  // With `expected` (a scan's lstat of this path) the inode was already checked to be the one the
  // path named; a rename after that is a newer version the next look at the path finds by its inode.
  if (options.expected === undefined) {
    let current: HashStats;
    try {
      current = await fs.stat(absPath);
    } catch (err) {
      throw vanishedWhileHashing(absPath, err);
    }
    assertSameVersion(absPath, after, current, 'path');
  }

  const result: FileHash = {
    sha256: hash.digest('hex'),
    size: after.size,
    mtimeMs: after.mtimeMs,
    ino: after.ino,
  };
  countHash(total);
  options.onHash?.(absPath, result);
  return result;
}

/**
 * The checks on a finished read of `before`: the stat taken after it (`after`) shows the same
 * version, and all of it was read. FileChangedError otherwise.
 */
export function assertReadWhole(
  absPath: string,
  before: FileVersion,
  after: FileVersion,
  bytesRead: number,
  against: 'expected' | 'open file',
): void {
  assertSameVersion(absPath, before, after, against);
  if (bytesRead !== after.size) {
    throw new FileChangedError(`file changed while hashing: ${absPath}`, {
      path: absPath,
      bytesRead,
      size: after.size,
    });
  }
}

/** The path no longer names a regular file (a directory, FIFO or device took its place). */
export function notRegularFile(absPath: string): FileChangedError {
  return new FileChangedError(`not a regular file: ${absPath}`, { path: absPath });
}

/** The file was removed before or during its hash (ENOENT on open, read or the path's stat). */
export function vanishedWhileHashing(absPath: string, cause?: unknown): FileChangedError {
  return new FileChangedError(
    `file vanished while hashing: ${absPath}`,
    { path: absPath },
    cause === undefined ? undefined : { cause },
  );
}

/** Adds one finished hash to hashCounter. */
export function countHash(bytes: number): void {
  hashCounter.files++;
  hashCounter.bytes += bytes;
}

function assertSameVersion(absPath: string, was: FileVersion, now: FileVersion, against: string): void {
  if (was.size === now.size && was.mtimeMs === now.mtimeMs && was.ino === now.ino) return;
  const when = against === 'expected' ? 'since it was last seen' : 'while hashing';
  throw new FileChangedError(`file changed ${when}: ${absPath}`, {
    path: absPath,
    against,
    before: pickVersion(was),
    after: pickVersion(now),
  });
}

function pickVersion(v: FileVersion): FileVersion {
  return { size: v.size, mtimeMs: v.mtimeMs, ino: v.ino };
}
