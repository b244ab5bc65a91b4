import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BreakerOpenError } from '../../src/api/breaker.js';
import { FilesClient } from '../../src/api/client.js';
import {
  AuthenticationError,
  BadRequestError,
  ContractMismatchError,
  MissingApiKeyError,
  NotFoundError,
  PaginationLoopError,
  RequestTooLargeError,
  SourceChangedError,
} from '../../src/api/errors.js';
import type { RunningEmulator } from '../../src/emulator/index.js';
import { TEST_API_KEY, clientFor, errorText, startTestEmulator, tempDir } from './support.js';

let emu: RunningEmulator;
let client: FilesClient;
let tmp: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  emu = await startTestEmulator();
  client = clientFor(emu);
  tmp = await tempDir();
});
afterAll(async () => {
  await client.close();
  await emu.close();
  await tmp.cleanup();
});

async function writeTemp(name: string, content: string | Buffer): Promise<string> {
  const p = join(tmp.dir, name);
  await writeFile(p, content);
  return p;
}

describe('upload', () => {
  it('uploads a path with the right MIME type and maps the answer', async () => {
    const path = await writeTemp('report.pdf', '%PDF-1.4 tiny');
    const file = await client.upload(path, { filename: 'report.pdf' });
    expect(file).toMatchObject({
      filename: 'report.pdf',
      mimeType: 'application/pdf',
      sizeBytes: 13,
      downloadable: false,
    });
    expect(file.id).toMatch(/^file_/);
    expect(Number.isFinite(Date.parse(file.createdAt))).toBe(true);
    const remote = emu.files().find((f) => f.id === file.id);
    expect(remote).toMatchObject({ filename: 'report.pdf', mimeType: 'application/pdf', sizeBytes: 13 });
  });

  it('sends text as bare text/plain and honours an explicit MIME type', async () => {
    const path = await writeTemp('notes.txt', 'hello');
    expect((await client.upload(path, { filename: 'notes.txt' })).mimeType).toBe('text/plain');
    const other = await client.upload(path, { filename: 'notes.dat', mimeType: 'application/x-custom' });
    expect(other.mimeType).toBe('application/x-custom');
  });

  it('uploads a stream of known size', async () => {
    const path = await writeTemp('s.bin', Buffer.alloc(100_000, 7));
    const file = await client.upload(
      { stream: createReadStream(path), size: 100_000 },
      { filename: 's.bin' },
    );
    expect(file.sizeBytes).toBe(100_000);
    expect(file.mimeType).toBe('application/octet-stream');
  });

  it('uploads a stream of unknown size (chunked)', async () => {
    const file = await client.upload(
      { stream: Readable.from([Buffer.from('abc'), Buffer.from('defg')]) },
      { filename: 'u.txt' },
    );
    expect(file.sizeBytes).toBe(7);
  });

  it('uploads a 0-byte file', async () => {
    const path = await writeTemp('empty.txt', '');
    const file = await client.upload(path, { filename: 'empty.txt' });
    expect(file.sizeBytes).toBe(0);
  });

  it('surfaces a bad filename as a typed 400', async () => {
    const path = await writeTemp('ok.txt', 'x');
    const err = await client.upload(path, { filename: 'bad<name>.txt' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as BadRequestError).requestId).toMatch(/\S/);
  });

  it('reports a missing source file as SourceChangedError', async () => {
    await expect(client.upload(join(tmp.dir, 'nope.txt'), { filename: 'nope.txt' })).rejects.toBeInstanceOf(
      SourceChangedError,
    );
  });
});

describe('list, retrieve, delete, download', () => {
  it('lists > 2,000 files via listAll, each id exactly once', async () => {
    const own = await startTestEmulator();
    const c = clientFor(own);
    try {
      const seeded = new Set<string>();
      for (let i = 0; i < 2_345; i++) seeded.add(own.addFile({ filename: `seed-${i}.txt`, sizeBytes: i }).id);
      const seen: string[] = [];
      for await (const f of c.listAll()) seen.push(f.id);
      expect(seen).toHaveLength(2_345);
      expect(new Set(seen)).toEqual(seeded);
      const small: string[] = [];
      for await (const f of c.listAll({ pageSize: 100 })) small.push(f.id);
      expect(small).toEqual(seen);
      // listPages: the same files in the same order, a page at a time.
      const pages: string[][] = [];
      for await (const page of c.listPages({ pageSize: 1000 })) pages.push(page.map((f) => f.id));
      expect(pages.map((p) => p.length)).toEqual([1000, 1000, 345]);
      expect(pages.flat()).toEqual(seen);
    } finally {
      await c.close();
      await own.close();
    }
  });

  it('pages with limit and the GA page cursor until next_page is null', async () => {
    const own = await startTestEmulator({ gaOnly: true });
    const c = clientFor(own);
    try {
      const ids = Array.from(
        { length: 5 },
        (_, i) => own.addFile({ filename: `p${i}.txt`, sizeBytes: 1 }).id,
      );
      const first = await c.list({ limit: 2 });
      expect(first.data).toHaveLength(2);
      expect(first.nextPage).toMatch(/^page_/);
      const seen = first.data.map((f) => f.id);
      let page = first;
      while (page.nextPage !== null) {
        page = await c.list({ limit: 2, page: page.nextPage });
        seen.push(...page.data.map((f) => f.id));
      }
      expect(seen.sort()).toEqual([...ids].sort());
      expect(own.stats().byRoute['GET /v1/files']).toBe(3);
      const empty = await (async () => {
        const e = await startTestEmulator();
        const ec = clientFor(e);
        try {
          return await ec.list();
        } finally {
          await ec.close();
          await e.close();
        }
      })();
      expect(empty).toEqual({ data: [], nextPage: null });
    } finally {
      await c.close();
      await own.close();
    }
  });

  it('retrieves metadata and 404s an unknown id', async () => {
    const path = await writeTemp('r.txt', 'retrieve me');
    const up = await client.upload(path, { filename: 'r.txt' });
    expect(await client.retrieve(up.id)).toEqual(up);
    const err = await client.retrieve('file_doesnotexist000000000').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).route).toBe('/v1/files/file_doesnotexist000000000');
  });

  it('deletes; a second delete reports alreadyGone', async () => {
    const path = await writeTemp('d.txt', 'delete me');
    const up = await client.upload(path, { filename: 'd.txt' });
    expect(await client.delete(up.id)).toEqual({ id: up.id, alreadyGone: false });
    expect(await client.delete(up.id)).toEqual({ id: up.id, alreadyGone: true });
    expect(emu.files().some((f) => f.id === up.id)).toBe(false);
  });

  it('refuses to download an uploaded file with a typed 400', async () => {
    const path = await writeTemp('nd.txt', 'not downloadable');
    const up = await client.upload(path, { filename: 'nd.txt' });
    const err = await client.download(up.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as BadRequestError).status).toBe(400);
    expect((err as BadRequestError).errorType).toBe('invalid_request_error');
  });

  it('downloads a downloadable file as a stream', async () => {
    const made = emu.addFile({ filename: 'tool-output.csv', sizeBytes: 300_000, downloadable: true });
    const body = await client.download(made.id);
    let total = 0;
    for await (const chunk of body) total += (chunk as Buffer).byteLength;
    expect(total).toBe(300_000);
  });

  it('finds a recent upload by name and size, skipping excluded and old files', async () => {
    const own = await startTestEmulator();
    const c = clientFor(own);
    try {
      const old = own.addFile({
        filename: 'f.txt',
        sizeBytes: 5,
        createdAt: new Date(Date.now() - 3_600_000).toISOString(),
      });
      const since = new Date();
      for (let i = 0; i < 250; i++) own.addFile({ filename: `noise-${i}.txt`, sizeBytes: 5 });
      const a = own.addFile({ filename: 'f.txt', sizeBytes: 5 });
      for (let i = 0; i < 150; i++) own.addFile({ filename: `noise2-${i}.txt`, sizeBytes: 5 });
      expect((await c.findRecentUpload('f.txt', 5, since))?.id).toBe(a.id);
      expect(await c.findRecentUpload('f.txt', 6, since)).toBeNull();
      expect(await c.findRecentUpload('f.txt', 5, since, { exclude: new Set([a.id]) })).toBeNull();
      expect(old.id).not.toBe(a.id);
    } finally {
      await c.close();
      await own.close();
    }
  });
});

describe('authentication and configuration', () => {
  it('gives a typed 401 for a bad key and never leaks the key', async () => {
    const badKey = 'sk-ant-wrong-key-9b74c9897bac770ffc029102a200c5de';
    const bad = new FilesClient({ apiKey: badKey, baseUrl: emu.url, maxRetries: 0 });
    try {
      const err = await bad.list().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthenticationError);
      expect((err as AuthenticationError).status).toBe(401);
      expect(errorText(err)).not.toContain(badKey);
      expect(errorText(err)).not.toContain(TEST_API_KEY);
      const path = await writeTemp('k.txt', 'k');
      // A refused key opens the client's breaker at once: the upload is not even sent.
      const requests = emu.stats().requests;
      const upErr = await bad.upload(path, { filename: 'k.txt' }).catch((e: unknown) => e);
      expect(upErr).toBeInstanceOf(BreakerOpenError);
      expect((upErr as Error).message).toContain('API key refused (401): check ANTHROPIC_API_KEY');
      expect(emu.stats().requests).toBe(requests);
      expect(errorText(upErr)).not.toContain(badKey);
    } finally {
      await bad.close();
    }
  });

  describe('fromEnv', () => {
    const saved = { key: process.env.ANTHROPIC_API_KEY, url: process.env.ANTHROPIC_BASE_URL };
    afterEach(() => {
      if (saved.key === undefined) delete process.env.ANTHROPIC_API_KEY;
      else process.env.ANTHROPIC_API_KEY = saved.key;
      if (saved.url === undefined) delete process.env.ANTHROPIC_BASE_URL;
      else process.env.ANTHROPIC_BASE_URL = saved.url;
    });

    it('names the missing variable', () => {
      delete process.env.ANTHROPIC_API_KEY;
      const err = (() => {
        try {
          FilesClient.fromEnv();
          return undefined;
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(MissingApiKeyError);
      expect((err as MissingApiKeyError).message).toContain('ANTHROPIC_API_KEY');
    });

    it('reads key and base URL from the environment', async () => {
      process.env.ANTHROPIC_API_KEY = TEST_API_KEY;
      process.env.ANTHROPIC_BASE_URL = emu.url;
      const c = FilesClient.fromEnv({ maxRetries: 0 });
      try {
        const page = await c.list({ limit: 1 });
        expect(page.data.length).toBeLessThanOrEqual(1);
      } finally {
        await c.close();
      }
    });
  });
});

describe('against a misbehaving server', () => {
  let server: Server;
  let url: string;
  let handler: Parameters<typeof createServer>[1] = () => {};
  beforeAll(async () => {
    server = createServer((req, res) => handler?.(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('no port');
    url = `http://127.0.0.1:${addr.port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const sameFile = {
    id: 'file_same',
    type: 'file',
    filename: 'a',
    mime_type: 'text/plain',
    size_bytes: 1,
    created_at: '2026-01-01T00:00:00.000Z',
  };
  function answerJson(body: unknown): void {
    handler = (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(body));
    };
  }
  async function listAllError(contract: 'ga' | 'beta'): Promise<{ err: unknown; seen: string[] }> {
    const c = clientFor({ url }, { maxRetries: 0, contract });
    try {
      const seen: string[] = [];
      const err = await (async () => {
        for await (const f of c.listAll()) seen.push(f.id);
      })().catch((e: unknown) => e);
      return { err, seen };
    } finally {
      await c.close();
    }
  }

  it('stops listAll with PaginationLoopError when a GA page repeats its next_page', async () => {
    answerJson({ data: [sameFile], next_page: 'page_same' });
    const { err, seen } = await listAllError('ga');
    expect(err).toBeInstanceOf(PaginationLoopError);
    expect(seen.length).toBeLessThanOrEqual(2);
  });

  it('stops listAll with PaginationLoopError when a beta page repeats its cursor', async () => {
    answerJson({ data: [sameFile], first_id: 'file_same', last_id: 'file_same', has_more: true });
    const { err, seen } = await listAllError('beta');
    expect(err).toBeInstanceOf(PaginationLoopError);
    expect(seen.length).toBeLessThanOrEqual(2);
  });

  it('names the missing field when the listing has the other contract’s shape', async () => {
    answerJson({ data: [sameFile], first_id: 'file_same', last_id: 'file_same', has_more: false });
    const ga = await listAllError('ga');
    expect(ga.err).toBeInstanceOf(ContractMismatchError);
    expect(ga.err).toMatchObject({ field: 'next_page', contract: 'ga' });
    expect((ga.err as Error).message).toContain('"next_page"');
    answerJson({ data: [sameFile], next_page: null });
    const beta = await listAllError('beta');
    expect(beta.err).toMatchObject({ field: 'has_more', contract: 'beta' });
    answerJson({ data: [{ ...sameFile, size_bytes: undefined }], next_page: null });
    const file = await listAllError('ga');
    expect(file.err).toMatchObject({ field: 'data.0.size_bytes' });
  });

  it('maps a non-JSON 413 to RequestTooLargeError', async () => {
    handler = (req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(413, { 'content-type': 'text/html' });
        res.end('<html>too large</html>');
      });
    };
    const c = clientFor({ url }, { maxRetries: 0 });
    try {
      const path = await writeTemp('big.bin', Buffer.alloc(1000));
      const err = await c.upload(path, { filename: 'big.bin' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RequestTooLargeError);
      expect((err as RequestTooLargeError).status).toBe(413);
    } finally {
      await c.close();
    }
  });

  it('surfaces a file changed after opening as SourceChangedError, without retrying', async () => {
    let requests = 0;
    let started!: () => void;
    const firstBytes = new Promise<void>((r) => (started = r));
    let held: import('node:http').IncomingMessage | undefined;
    handler = (req, res) => {
      requests++;
      held = req;
      req.pause();
      req.once('readable', () => started());
      req.on('error', () => {});
      req.on('end', () => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{}');
      });
    };
    const path = await writeTemp('changing.bin', Buffer.alloc(0));
    const { truncate, appendFile } = await import('node:fs/promises');
    // Far more than the socket buffers hold, so the blob is still being read when the file changes.
    await truncate(path, 64 * 1024 * 1024);
    const c = clientFor({ url });
    try {
      const outcome = c.upload(path, { filename: 'changing.bin' }).catch((e: unknown) => e);
      await firstBytes;
      await appendFile(path, 'changed');
      held?.resume();
      const err = await outcome;
      expect(err).toBeInstanceOf(SourceChangedError);
      expect(requests).toBe(1);
    } finally {
      await c.close();
    }
  });
});
