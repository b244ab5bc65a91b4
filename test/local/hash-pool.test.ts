/** HashPool: hashes on worker threads with hashFile's checks, ends idle threads, falls back to the main thread. */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, lstat, mkdir, mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileChangedError, HASH_CHUNK_BYTES, hashCounter, type FileVersion } from '../../src/local/hash.js';
import { HashPool } from '../../src/local/hash-pool.js';
import { waitFor } from '../helpers/wait.js';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

let dir: string;
let pool: HashPool;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'hash-pool-'));
  pool = new HashPool({ threads: 2, idleMs: 50 });
});
afterEach(async () => {
  await pool.close();
  await rm(dir, { recursive: true, force: true });
});

async function versionOf(p: string): Promise<FileVersion> {
  const st = await lstat(p);
  return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

describe('HashPool', () => {
  it('hashes files of every size exactly, on at most its threads, and counts them', async () => {
    const sizes = [0, 1, 4096, HASH_CHUNK_BYTES, HASH_CHUNK_BYTES * 2 + 7, 100_000, 3, 70_000];
    const files = await Promise.all(
      sizes.map(async (size, i) => {
        const p = path.join(dir, `f${i}.bin`);
        const content = randomBytes(size);
        await writeFile(p, content);
        return { p, content };
      }),
    );
    const before = { ...hashCounter };
    const results = await Promise.all(files.map(async (f) => pool.hash(f.p, await versionOf(f.p))));
    for (const [i, f] of files.entries()) {
      expect(results[i]).toEqual({ sha256: sha256(f.content), ...(await versionOf(f.p)) });
    }
    expect(pool.liveThreads).toBeLessThanOrEqual(2);
    expect(hashCounter.files - before.files).toBe(files.length);
    expect(hashCounter.bytes - before.bytes).toBe(sizes.reduce((a, b) => a + b, 0));
  });

  it('refuses a file that is not the scanned version any more, as hashFile does', async () => {
    const p = path.join(dir, 'a.txt');
    await writeFile(p, 'one');
    const scanned = await versionOf(p);
    await appendFile(p, 'two');
    await expect(pool.hash(p, scanned)).rejects.toBeInstanceOf(FileChangedError);

    // A save by rename: same size, another inode.
    const before = await versionOf(p);
    await writeFile(path.join(dir, 'tmp'), 'abcdef');
    await rename(path.join(dir, 'tmp'), p);
    await expect(pool.hash(p, before)).rejects.toBeInstanceOf(FileChangedError);

    await unlink(p);
    await expect(pool.hash(p, before)).rejects.toBeInstanceOf(FileChangedError);
  });

  it('reports a directory or a FIFO at the path as an error without hanging a thread', async () => {
    const d = path.join(dir, 'now-a-dir');
    await mkdir(d);
    await expect(pool.hash(d, { size: 10, mtimeMs: 1, ino: 1 })).rejects.toMatchObject({ code: 'EISDIR' });

    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // Nobody writes to it: a blocking open would never return.
    await expect(pool.hash(fifo, { size: 10, mtimeMs: 1, ino: 1 })).rejects.toBeDefined();

    const p = path.join(dir, 'after.txt');
    await writeFile(p, 'still works');
    expect((await pool.hash(p, await versionOf(p))).sha256).toBe(sha256('still works'));
  });

  it('answers an abort at once and ends its threads when idle; a later hash starts them again', async () => {
    const p = path.join(dir, 'a.txt');
    await writeFile(p, 'hello');
    const v = await versionOf(p);
    const aborted = new AbortController();
    aborted.abort(new Error('stop'));
    await expect(pool.hash(p, v, aborted.signal)).rejects.toThrow('stop');

    expect((await pool.hash(p, v)).sha256).toBe(sha256('hello'));
    expect(pool.liveThreads).toBeGreaterThan(0);
    await waitFor(() => pool.liveThreads === 0, { message: 'idle threads ended' });
    expect((await pool.hash(p, v)).sha256).toBe(sha256('hello'));
  });

  it('hashes on the main thread where its threads cannot start', async () => {
    const broken = new HashPool({ workerUrl: new URL('file:///nonexistent/hash-worker.mjs') });
    try {
      const p = path.join(dir, 'a.txt');
      await writeFile(p, 'hello');
      const v = await versionOf(p);
      expect((await broken.hash(p, v)).sha256).toBe(sha256('hello'));
      expect((await broken.hash(p, v)).sha256).toBe(sha256('hello'));
      expect(broken.liveThreads).toBe(0);
      await appendFile(p, '!');
      await expect(broken.hash(p, v)).rejects.toBeInstanceOf(FileChangedError);
    } finally {
      await broken.close();
    }
  });
});
