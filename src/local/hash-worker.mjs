// @ts-check
// A HashPool thread: reads a file with blocking calls (off the main thread, so no thread-pool trip per call) through SHA-256 and reports what it read.
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

/** 1 MiB reads, as hashFile's (HASH_CHUNK_BYTES). */
const CHUNK_BYTES = 1 << 20;
/** O_NONBLOCK: a FIFO put where the file was must not hang the thread in open(); a regular file ignores it. */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);
/** Jobs run one at a time, so one buffer serves the thread's whole life. */
const buffer = Buffer.allocUnsafe(CHUNK_BYTES);

/**
 * Hashes up to `job.size` bytes (a file that grew shows a new size in the stat taken after the
 * read), then stats the open file. Judging what was read is the caller's (hash-pool.ts).
 * @param {import('./hash-pool.js').HashJob} job
 * @returns {import('./hash-pool.js').HashReply}
 */
function hashOne(job) {
  /** @type {number | undefined} */
  let fd;
  try {
    fd = openSync(job.path, OPEN_FLAGS);
    const hash = createHash('sha256');
    let bytesRead = 0;
    for (;;) {
      const n = readSync(fd, buffer, 0, CHUNK_BYTES, null);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
      bytesRead += n;
      if (bytesRead >= job.size) break;
    }
    const st = fstatSync(fd);
    return {
      id: job.id,
      sha256: hash.digest('hex'),
      bytesRead,
      after: { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, isFile: st.isFile() },
    };
  } catch (err) {
    const e = /** @type {{ message?: unknown, code?: unknown }} */ (err ?? {});
    return {
      id: job.id,
      error: { message: String(e.message ?? err), ...(typeof e.code === 'string' ? { code: e.code } : {}) },
    };
  } finally {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // Nothing was written through it: a failed close loses nothing.
      }
    }
  }
}

const port = parentPort;
if (port)
  port.on('message', (/** @type {import('./hash-pool.js').HashJob} */ job) => port.postMessage(hashOne(job)));
