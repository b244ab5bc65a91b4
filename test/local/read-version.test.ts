/** OpenVersion: reads exactly the hashed version of a file for an upload, or refuses. */
import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileChangedError, type FileVersion } from '../../src/local/hash.js';
import { OpenVersion } from '../../src/local/read-version.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'read-version-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function versionOf(p: string): Promise<FileVersion> {
  const st = await stat(p);
  return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

describe('OpenVersion', () => {
  it('reads a small file between a head and a tail in one buffer', async () => {
    const p = path.join(dir, 'a.txt');
    await writeFile(p, 'hello');
    const v = await OpenVersion.open(p, await versionOf(p));
    try {
      expect((await v.readFramed(Buffer.from('<'), Buffer.from('>'))).toString()).toBe('<hello>');
    } finally {
      await v.close();
    }
  });

  it('streams a multi-chunk file and an empty one exactly', async () => {
    const p = path.join(dir, 'big.bin');
    const content = randomBytes(3 * 1024 + 17);
    await writeFile(p, content);
    const v = await OpenVersion.open(p, await versionOf(p));
    expect((await collect(v.chunks(1024))).equals(content)).toBe(true);

    const e = path.join(dir, 'empty');
    await writeFile(e, '');
    expect((await collect((await OpenVersion.open(e, await versionOf(e))).chunks())).length).toBe(0);
  });

  it('refuses a file that is not the expected version any more, or vanished', async () => {
    const p = path.join(dir, 'a.txt');
    await writeFile(p, 'one');
    const hashed = await versionOf(p);
    await appendFile(p, 'two');
    await expect(OpenVersion.open(p, hashed)).rejects.toBeInstanceOf(FileChangedError);
    // A save by rename: same size, another inode.
    const tmp = path.join(dir, 'a.tmp');
    await writeFile(tmp, 'abcdef');
    const before = await versionOf(p);
    await rename(tmp, p);
    await expect(OpenVersion.open(p, before)).rejects.toBeInstanceOf(FileChangedError);
    await expect(OpenVersion.open(path.join(dir, 'gone'), before)).rejects.toBeInstanceOf(FileChangedError);
  });

  it('opened without a stat, refuses in the stat after the read a file that is not the expected version', async () => {
    const p = path.join(dir, 'a.txt');
    await writeFile(p, 'abcdef');
    const hashed = await versionOf(p);
    // A save by rename before the open: same size, another inode.
    await writeFile(path.join(dir, 'a.tmp'), 'ghijkl');
    await rename(path.join(dir, 'a.tmp'), p);
    const v = await OpenVersion.openUnchecked(p, hashed);
    try {
      await expect(v.readFramed(Buffer.alloc(0), Buffer.alloc(0))).rejects.toBeInstanceOf(FileChangedError);
      // A stream of it checks before its first read: no byte of the other version is handed out.
      await expect(v.chunks(2).next()).rejects.toBeInstanceOf(FileChangedError);
    } finally {
      await v.close();
    }
    await expect(OpenVersion.openUnchecked(path.join(dir, 'gone'), hashed)).rejects.toBeInstanceOf(
      FileChangedError,
    );
  });

  it('withholds the last chunk of a file written to while it is streamed', async () => {
    const p = path.join(dir, 'big.bin');
    await writeFile(p, randomBytes(4096));
    const it = (await OpenVersion.open(p, await versionOf(p))).chunks(1024);
    expect((await it.next()).value).toHaveLength(1024);
    await appendFile(p, 'more');
    // The remaining chunks read fine, but the check before the last one sees the new size.
    const rest = (async () => {
      for (;;) if ((await it.next()).done) return;
    })();
    await expect(rest).rejects.toBeInstanceOf(FileChangedError);
  });

  it('a small file written to while it is read is refused (the stat after the read)', async () => {
    const p = path.join(dir, 'a.txt');
    await writeFile(p, 'hello');
    const v = await OpenVersion.open(p, await versionOf(p));
    await appendFile(p, '!');
    await expect(v.readFramed(Buffer.alloc(0), Buffer.alloc(0))).rejects.toBeInstanceOf(FileChangedError);
    await v.close();
  });

  it('a file deleted while it is streamed or before the answer is no longer current', async () => {
    const p = path.join(dir, 'big.bin');
    await writeFile(p, randomBytes(4096));
    const it = (await OpenVersion.open(p, await versionOf(p))).chunks(1024);
    await it.next();
    await unlink(p);
    const rest = (async () => {
      for (;;) if ((await it.next()).done) return;
    })();
    await expect(rest).rejects.toBeInstanceOf(FileChangedError);

    const q = path.join(dir, 'small.txt');
    await writeFile(q, 'hello');
    const v = await OpenVersion.open(q, await versionOf(q));
    try {
      await v.readFramed(Buffer.alloc(0), Buffer.alloc(0));
      expect(await v.stillCurrent()).toBe(true);
      await unlink(q);
      expect(await v.stillCurrent()).toBe(false);
    } finally {
      await v.close();
    }
  });
});
