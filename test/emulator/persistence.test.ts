import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startEmulator } from '../../src/emulator/index.js';
import { API_HEADERS, call, upload } from './support.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'files-sync-emulator-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('dataDir persistence', () => {
  it('keeps files, deletes and order across a restart, and stores uploaded content', async () => {
    const first = await startEmulator({ dataDir: dir });
    const a = (await upload(first, 'a.txt', 'alpha', 'text/plain')).json;
    const b = (await upload(first, 'b.txt', 'bravo')).json;
    const c = (await upload(first, 'c.txt', 'charlie')).json;
    const seeded = first.addFile({ filename: 'tool-output.csv', sizeBytes: 1234, downloadable: true });
    await call(first, 'DELETE', `/v1/files/${b.id}`);
    const before = first.files();
    await first.close();

    expect(await readFile(join(dir, 'content', a.id), 'utf8')).toBe('alpha');
    expect(await readdir(join(dir, 'content'))).not.toContain(b.id);

    const second = await startEmulator({ dataDir: dir });
    try {
      expect(second.files()).toEqual(before);
      expect(second.files().map((f) => f.id)).toEqual([seeded.id, c.id, a.id]);
      expect((await call(second, 'GET', `/v1/files/${b.id}`)).status).toBe(404);
      // A cursor deleted before the restart still works.
      const after = await call(second, 'GET', `/v1/files?after_id=${b.id}`);
      expect(after.json.data.map((f: { id: string }) => f.id)).toEqual([a.id]);
      expect(second.files()[2]?.sha256).toBe(createHash('sha256').update('alpha').digest('hex'));
    } finally {
      await second.close();
    }
  });

  it('writes a multi-megabyte upload to disk byte for byte', async () => {
    const emu = await startEmulator({ dataDir: dir });
    try {
      const content = Buffer.alloc(6 * 1024 * 1024 + 3);
      for (let i = 0; i < content.length; i++) content[i] = (i * 7 + 1) & 0xff;
      const created = (await upload(emu, 'big.bin', content)).json;
      expect(created.size_bytes).toBe(content.length);
      expect((await readFile(join(dir, 'content', created.id))).equals(content)).toBe(true);
      expect(emu.files()[0]?.sha256).toBe(createHash('sha256').update(content).digest('hex'));
    } finally {
      await emu.close();
    }
  });

  it('serves stored content of a downloadable file when the data dir has it', async () => {
    const emu = await startEmulator({ dataDir: dir });
    try {
      const f = emu.addFile({ filename: 'report.txt', sizeBytes: 5, downloadable: true });
      await writeFile(join(dir, 'content', f.id), 'hello');
      const res = await request(`${emu.url}/v1/files/${f.id}/content`, { headers: API_HEADERS });
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe('hello');
    } finally {
      await emu.close();
    }
  });

  it('leaves no partial content behind for a refused upload, and reset wipes the directory', async () => {
    const emu = await startEmulator({ dataDir: dir, maxUploadBytes: 100 });
    try {
      expect((await upload(emu, 'too-big.bin', Buffer.alloc(500))).status).toBe(413);
      await upload(emu, 'ok.bin', 'ok');
      // Let the aborted writer finish removing its temp file.
      await expect.poll(async () => (await readdir(join(dir, 'content'))).length).toBe(1);
      await call(emu, 'POST', '/_emulator/reset', { noDefaultHeaders: true });
      expect(await readdir(join(dir, 'content'))).toEqual([]);
    } finally {
      await emu.close();
    }
    const again = await startEmulator({ dataDir: dir });
    try {
      expect(again.files()).toEqual([]);
    } finally {
      await again.close();
    }
  });

  it('ignores a torn last journal line', async () => {
    const emu = await startEmulator({ dataDir: dir });
    const kept = (await upload(emu, 'kept.txt', 'k')).json;
    await emu.close();
    await writeFile(
      join(dir, 'journal.jsonl'),
      `${await readFile(join(dir, 'journal.jsonl'), 'utf8')}{"op":"add","fi`,
    );
    const again = await startEmulator({ dataDir: dir });
    let after: string;
    try {
      expect(again.files().map((f) => f.id)).toEqual([kept.id]);
      // The first record after the torn line must survive the next restart too.
      after = (await upload(again, 'after.txt', 'a')).json.id as string;
    } finally {
      await again.close();
    }
    const third = await startEmulator({ dataDir: dir });
    try {
      expect(
        third
          .files()
          .map((f) => f.id)
          .sort(),
      ).toEqual([kept.id, after].sort());
    } finally {
      await third.close();
    }
  });
});
