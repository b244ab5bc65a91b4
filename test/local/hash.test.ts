import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FileChangedError,
  HASH_CHUNK_BYTES,
  hashCounter,
  hashFile,
  resetHashCounter,
} from '../../src/local/hash.js';
import { createTestFs } from './memfs-helpers.js';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('hashFile on memfs', () => {
  it('hashes a multi-chunk file and returns its version', async () => {
    const content = randomBytes(HASH_CHUNK_BYTES * 2 + 12345);
    const { fs, api } = createTestFs({ '/f/big.bin': '' });
    fs.writeFileSync('/f/big.bin', content);
    const st = fs.statSync('/f/big.bin');
    const result = await hashFile('/f/big.bin', { fs: api });
    expect(result).toEqual({
      sha256: sha256(content),
      size: content.length,
      mtimeMs: st.mtimeMs,
      ino: st.ino,
    });
  });

  it('hashes an empty file', async () => {
    const { api } = createTestFs({ '/f/empty': '' });
    expect((await hashFile('/f/empty', { fs: api })).sha256).toBe(sha256(''));
  });

  it('throws FileChangedError when the file grows while it is read', async () => {
    const { fs, api } = createTestFs({ '/f/a.bin': '' });
    fs.writeFileSync('/f/a.bin', randomBytes(HASH_CHUNK_BYTES * 3));
    const err = await hashFile('/f/a.bin', {
      fs: api,
      onProgress: (bytes) => {
        if (bytes === HASH_CHUNK_BYTES) fs.appendFileSync('/f/a.bin', 'more');
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileChangedError);
    expect((err as FileChangedError).context.path).toBe('/f/a.bin');
  });

  it('throws FileChangedError when the path is replaced by a rename during the read', async () => {
    const { fs, api } = createTestFs({
      '/f/a.txt': 'x'.repeat(HASH_CHUNK_BYTES + 1),
      '/f/new.txt': 'y'.repeat(HASH_CHUNK_BYTES + 1),
    });
    const err = await hashFile('/f/a.txt', {
      fs: api,
      onProgress: (bytes) => {
        if (bytes === HASH_CHUNK_BYTES) fs.renameSync('/f/new.txt', '/f/a.txt');
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileChangedError);
    expect((err as FileChangedError).context).toMatchObject({ path: '/f/a.txt', against: 'path' });
  });

  it('throws FileChangedError when the file is deleted during the read', async () => {
    const { fs, api } = createTestFs({ '/f/a.txt': 'x'.repeat(HASH_CHUNK_BYTES + 1) });
    const err = await hashFile('/f/a.txt', {
      fs: api,
      onProgress: () => fs.unlinkSync('/f/a.txt'),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileChangedError);
  });

  it('throws FileChangedError when the file differs from the expected version', async () => {
    const { fs, api } = createTestFs({ '/f/a.txt': 'abc' });
    const st = fs.statSync('/f/a.txt');
    const expected = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
    await expect(hashFile('/f/a.txt', { fs: api, expected })).resolves.toMatchObject({
      sha256: sha256('abc'),
    });
    await expect(
      hashFile('/f/a.txt', { fs: api, expected: { ...expected, size: 4 } }),
    ).rejects.toBeInstanceOf(FileChangedError);
    await expect(
      hashFile('/f/a.txt', { fs: api, expected: { ...expected, ino: st.ino + 1 } }),
    ).rejects.toMatchObject({
      name: 'FileChangedError',
      context: { against: 'expected' },
    });
  });

  it('counts hashes through hashCounter and onHash, and not failed ones', async () => {
    const { fs, api } = createTestFs({ '/f/a.txt': 'abc', '/f/b.txt': 'de' });
    resetHashCounter();
    const seen: string[] = [];
    await hashFile('/f/a.txt', { fs: api, onHash: (p) => seen.push(p) });
    await hashFile('/f/b.txt', { fs: api, onHash: (p) => seen.push(p) });
    const st = fs.statSync('/f/a.txt');
    await hashFile('/f/a.txt', {
      fs: api,
      onHash: (p) => seen.push(p),
      expected: { size: 99, mtimeMs: st.mtimeMs, ino: st.ino },
    }).catch(() => undefined);
    expect(seen).toEqual(['/f/a.txt', '/f/b.txt']);
    expect(hashCounter).toEqual({ files: 2, bytes: 5 });
  });

  it('propagates a missing file as the fs error', async () => {
    const { api } = createTestFs({ '/f': null });
    await expect(hashFile('/f/none', { fs: api })).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('stops when the signal aborts', async () => {
    const { fs, api } = createTestFs({ '/f/a.bin': '' });
    fs.writeFileSync('/f/a.bin', randomBytes(HASH_CHUNK_BYTES * 3));
    const controller = new AbortController();
    const run = hashFile('/f/a.bin', {
      fs: api,
      signal: controller.signal,
      onProgress: () => controller.abort(new Error('cancelled')),
    });
    await expect(run).rejects.toThrow('cancelled');
  });
});

describe('hashFile on a real file', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('matches crypto over the same bytes with node:fs', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'files-sync-hash-'));
    const file = path.join(dir, 'data.bin');
    const content = randomBytes(HASH_CHUNK_BYTES + 7);
    await writeFile(file, content);
    const result = await hashFile(file);
    expect(result.sha256).toBe(sha256(content));
    expect(result.size).toBe(content.length);
  });
});
