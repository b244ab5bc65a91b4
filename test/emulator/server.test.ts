import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FormData, request } from 'undici';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { API_HEADERS, GA, call, multipart, seed, upload } from './support.js';

const FILE_ID = /^file_[0-9A-Za-z]{24}$/;
const REQUEST_ID = /^req_[0-9A-Za-z]{24}$/;
const RFC3339_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let emu: RunningEmulator;

beforeEach(async () => {
  emu = await startEmulator();
});
afterEach(async () => {
  await emu.close();
});

function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

describe('request headers and errors', () => {
  it('answers 401 without x-api-key', async () => {
    const r = await call(emu, 'GET', '/v1/files', {
      noDefaultHeaders: true,
      headers: { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'files-api-2025-04-14' },
    });
    expect(r.status).toBe(401);
    expect(r.json.error.type).toBe('authentication_error');
  });

  it('answers 401 for a wrong key when a key is configured, and never echoes keys', async () => {
    const keyed = await startEmulator({ apiKey: 'sk-the-right-key' });
    try {
      const wrong = await call(keyed, 'GET', '/v1/files', { headers: { 'x-api-key': 'sk-a-wrong-key' } });
      expect(wrong.status).toBe(401);
      expect(wrong.text).not.toContain('sk-a-wrong-key');
      expect(wrong.text).not.toContain('sk-the-right-key');
      const right = await call(keyed, 'GET', '/v1/files', { headers: { 'x-api-key': 'sk-the-right-key' } });
      expect(right.status).toBe(200);
    } finally {
      await keyed.close();
    }
  });

  it('accepts the key as an Authorization bearer token (as the official SDK sends it)', async () => {
    const keyed = await startEmulator({ apiKey: 'sk-bearer-key' });
    try {
      const noKey = { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'files-api-2025-04-14' };
      const ok = await call(keyed, 'GET', '/v1/files', {
        noDefaultHeaders: true,
        headers: { ...noKey, authorization: 'Bearer sk-bearer-key' },
      });
      expect(ok.status).toBe(200);
      const bad = await call(keyed, 'GET', '/v1/files', {
        noDefaultHeaders: true,
        headers: { ...noKey, authorization: 'Bearer sk-other' },
      });
      expect(bad.status).toBe(401);
      const basic = await call(keyed, 'GET', '/v1/files', {
        noDefaultHeaders: true,
        headers: { ...noKey, authorization: 'Basic abc' },
      });
      expect(basic.status).toBe(401);
    } finally {
      await keyed.close();
    }
  });

  it('answers 400 without anthropic-version', async () => {
    const r = await call(emu, 'GET', '/v1/files', {
      noDefaultHeaders: true,
      headers: { 'x-api-key': 'k', 'anthropic-beta': 'files-api-2025-04-14' },
    });
    expect(r.status).toBe(400);
    expect(r.json.error.type).toBe('invalid_request_error');
  });

  it('answers GA shapes without the files beta and beta shapes with it, also inside a comma-separated list', async () => {
    const ga = await call(emu, 'GET', '/v1/files', {
      noDefaultHeaders: true,
      headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
    });
    expect(ga.status).toBe(200);
    expect(ga.json).toEqual({ data: [], next_page: null });
    const other = await call(emu, 'GET', '/v1/files', { headers: { 'anthropic-beta': 'some-other-beta' } });
    expect(other.json).toEqual({ data: [], next_page: null });
    const listed = await call(emu, 'GET', '/v1/files', {
      headers: { 'anthropic-beta': 'other-2025-01-01, files-api-2025-04-14' },
    });
    expect(listed.json).toEqual({ data: [], first_id: null, last_id: null, has_more: false });
  });

  it('ignores ?beta=true', async () => {
    const r = await call(emu, 'GET', '/v1/files?beta=true&limit=5');
    expect(r.status).toBe(200);
    expect(r.json.data).toEqual([]);
  });

  it('puts a request-id header on every response and the same id in error bodies', async () => {
    const ok = await call(emu, 'GET', '/v1/files');
    expect(ok.headers['request-id']).toMatch(REQUEST_ID);
    const err = await call(emu, 'GET', '/v1/files/file_missing');
    expect(err.headers['request-id']).toMatch(REQUEST_ID);
    expect(err.json).toEqual({
      type: 'error',
      error: { type: 'not_found_error', message: expect.any(String) },
      request_id: err.headers['request-id'],
    });
    const state = await call(emu, 'GET', '/_emulator/state', { noDefaultHeaders: true });
    expect(state.headers['request-id']).toMatch(REQUEST_ID);
    expect(ok.headers['request-id']).not.toBe(err.headers['request-id']);
  });

  it('answers 404 for unknown routes and 405 for a wrong method', async () => {
    expect((await call(emu, 'GET', '/v1/nothing')).json.error.type).toBe('not_found_error');
    expect((await call(emu, 'GET', '/v2/files')).status).toBe(404);
    expect((await call(emu, 'GET', '/')).status).toBe(404);
    const wrong = await call(emu, 'PUT', '/v1/files');
    expect(wrong.status).toBe(405);
    expect(wrong.headers['allow']).toBe('GET, POST');
    expect((await call(emu, 'POST', '/v1/files/file_x')).status).toBe(405);
    expect((await call(emu, 'DELETE', '/v1/files/file_x/content')).status).toBe(405);
  });
});

describe('POST /v1/files', () => {
  it('creates a file and returns the API file object', async () => {
    const r = await upload(emu, 'notes.txt', 'hello world', 'text/plain');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      id: expect.stringMatching(FILE_ID),
      type: 'file',
      filename: 'notes.txt',
      mime_type: 'text/plain',
      size_bytes: 11,
      created_at: expect.stringMatching(RFC3339_MS),
      downloadable: false,
      expires_at: null,
    });
    expect(emu.files()).toEqual([
      {
        id: r.json.id,
        filename: 'notes.txt',
        mimeType: 'text/plain',
        sizeBytes: 11,
        createdAt: r.json.created_at,
        sha256: sha256('hello world'),
        downloadable: false,
        workspaceId: 'wrkspc_default',
        expiresAt: null,
      },
    ]);
    expect(emu.stats().uploadsCreated).toBe(1);
  });

  it('streams a multi-megabyte upload sent by undici FormData and hashes it exactly', async () => {
    const content = Buffer.alloc(5 * 1024 * 1024 + 17);
    for (let i = 0; i < content.length; i++) content[i] = (i * 31 + 7) & 0xff;
    const form = new FormData();
    form.append('file', new Blob([content], { type: 'application/pdf' }), 'big.pdf');
    const res = await request(`${emu.url}/v1/files`, { method: 'POST', headers: API_HEADERS, body: form });
    const json = (await res.body.json()) as { size_bytes: number; mime_type: string };
    expect(res.statusCode).toBe(200);
    expect(json.size_bytes).toBe(content.length);
    expect(json.mime_type).toBe('application/pdf');
    expect(emu.files()[0]?.sha256).toBe(sha256(content));
  });

  it('defaults the mime type to application/octet-stream and drops content-type parameters', async () => {
    expect((await upload(emu, 'a.bin', 'x')).json.mime_type).toBe('application/octet-stream');
    expect((await upload(emu, 'b.txt', 'x', 'Text/Plain; charset=utf-8')).json.mime_type).toBe('text/plain');
  });

  it('keeps only the last path component of the filename', async () => {
    expect((await upload(emu, 'dir/sub/a.txt', 'x')).json.filename).toBe('a.txt');
    expect((await upload(emu, 'C:\\tmp\\b.txt', 'x')).json.filename).toBe('b.txt');
  });

  it('keeps a raw Windows path from undici FormData intact up to its last component', async () => {
    const form = new FormData();
    form.append('file', new Blob(['x']), 'C:\\Users\\me\\report "final".txt');
    const res = await request(`${emu.url}/v1/files`, { method: 'POST', headers: API_HEADERS, body: form });
    const json = (await res.body.json()) as { filename?: string };
    // undici sends the quote as %22, which is a legal character in the API's names.
    expect(res.statusCode).toBe(200);
    expect(json.filename).toBe('report %22final%22.txt');
  });

  it('accepts a 0-byte upload', async () => {
    const r = await upload(emu, 'empty.txt', '');
    expect(r.status).toBe(200);
    expect(r.json.size_bytes).toBe(0);
    expect(emu.files()[0]?.sha256).toBe(sha256(''));
  });

  it.each([
    ['a<b.txt'],
    ['a>b'],
    ['a:b'],
    ['a|b'],
    ['a?b'],
    ['a*b'],
    ['dir/'],
    [''],
    ['x'.repeat(256)],
    ['tab\there'],
  ])('refuses filename %j with 400 and creates nothing', async (name) => {
    const r = await upload(emu, name, 'x');
    expect(r.status).toBe(400);
    expect(r.json.error.type).toBe('invalid_request_error');
    expect(emu.files()).toEqual([]);
  });

  it('accepts a 255-character filename', async () => {
    expect((await upload(emu, 'y'.repeat(255), 'x')).status).toBe(200);
  });

  it.each([
    ['no file part', [{ name: 'other', content: 'x' }]],
    [
      'an extra field',
      [
        { name: 'file', filename: 'a.txt', content: 'x' },
        { name: 'purpose', content: 'user_data' },
      ],
    ],
    [
      'two file parts',
      [
        { name: 'file', filename: 'a.txt', content: 'x' },
        { name: 'file', filename: 'b.txt', content: 'y' },
      ],
    ],
    ['a file part without filename', [{ name: 'file', content: 'x' }]],
    ['no parts at all', []],
  ])('answers 400 for %s', async (_label, parts) => {
    const { body, contentType } = multipart(parts);
    const r = await call(emu, 'POST', '/v1/files', { headers: { 'content-type': contentType }, body });
    expect(r.status).toBe(400);
    expect(r.json.error.type).toBe('invalid_request_error');
    expect(emu.files()).toEqual([]);
  });

  it('answers 400 for a body that is not multipart or is truncated', async () => {
    const json = await call(emu, 'POST', '/v1/files', {
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(json.status).toBe(400);
    const { body, contentType } = multipart([{ name: 'file', filename: 'a.txt', content: 'hello' }]);
    const truncated = await call(emu, 'POST', '/v1/files', {
      headers: { 'content-type': contentType },
      body: body.subarray(0, body.length - 10),
    });
    expect(truncated.status).toBe(400);
    expect(emu.files()).toEqual([]);
  });

  it('answers 413 request_too_large over maxUploadBytes (both streamed and declared)', async () => {
    const small = await startEmulator({ maxUploadBytes: 1000 });
    try {
      const justOk = await upload(small, 'ok.bin', Buffer.alloc(1000));
      expect(justOk.status).toBe(200);
      const over = await upload(small, 'over.bin', Buffer.alloc(1001));
      expect(over.status).toBe(413);
      expect(over.json.error.type).toBe('request_too_large');
      // Declared far too big: refused before the body is read.
      const huge = await upload(small, 'huge.bin', Buffer.alloc(3 * 1024 * 1024));
      expect(huge.status).toBe(413);
      expect(small.files().map((f) => f.filename)).toEqual(['ok.bin']);
      // The emulator still serves requests afterwards.
      expect((await call(small, 'GET', '/v1/files')).status).toBe(200);
    } finally {
      await small.close();
    }
  });
});

describe('GET /v1/files', () => {
  it('returns an empty page with null ids', async () => {
    const r = await call(emu, 'GET', '/v1/files');
    expect(r.json).toEqual({ data: [], first_id: null, last_id: null, has_more: false });
  });

  it('defaults to 20 items, newest first', async () => {
    const ids = seed(emu, 25);
    const r = await call(emu, 'GET', '/v1/files');
    expect(r.json.data.map((f: { id: string }) => f.id)).toEqual(ids.slice(0, 20));
    expect(r.json.first_id).toBe(ids[0]);
    expect(r.json.last_id).toBe(ids[19]);
    expect(r.json.has_more).toBe(true);
  });

  it.each([['0'], ['1001'], ['abc'], ['1.5'], ['-1'], ['']])('answers 400 for limit=%j', async (limit) => {
    const r = await call(emu, 'GET', `/v1/files?limit=${limit}`);
    expect(r.status).toBe(400);
    expect(r.json.error.type).toBe('invalid_request_error');
  });

  it('accepts limit 1 and 1000', async () => {
    seed(emu, 1001);
    expect((await call(emu, 'GET', '/v1/files?limit=1')).json.data).toHaveLength(1);
    const big = await call(emu, 'GET', '/v1/files?limit=1000');
    expect(big.json.data).toHaveLength(1000);
    expect(big.json.has_more).toBe(true);
  });

  it('pages through 2,500 files with after_id and back with before_id', async () => {
    const ids = seed(emu, 2500);
    const forward: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const r = await call(emu, 'GET', `/v1/files?limit=300${after ? `&after_id=${after}` : ''}`);
      expect(r.status).toBe(200);
      forward.push(...r.json.data.map((f: { id: string }) => f.id));
      pages++;
      if (!r.json.has_more) break;
      after = r.json.last_id;
    }
    expect(pages).toBe(9);
    expect(forward).toEqual(ids);

    const backward: string[] = [];
    let before = ids[ids.length - 1] as string;
    for (;;) {
      const r = await call(emu, 'GET', `/v1/files?limit=300&before_id=${before}`);
      backward.unshift(...r.json.data.map((f: { id: string }) => f.id));
      if (!r.json.has_more) break;
      before = r.json.first_id;
    }
    expect(backward).toEqual(ids.slice(0, -1));
  });

  it('pages with the opaque GA `page` token when no beta header is sent', async () => {
    const ids = seed(emu, 5);
    const first = await call(emu, 'GET', '/v1/files?limit=3', GA);
    expect(first.json.next_page).toMatch(/^page_/);
    const second = await call(emu, 'GET', `/v1/files?limit=3&page=${first.json.next_page}`, GA);
    expect(second.json.data.map((f: { id: string }) => f.id)).toEqual(ids.slice(3));
    expect(second.json.next_page).toBeNull();
  });

  it('keeps a cursor working after its file was deleted', async () => {
    const ids = seed(emu, 10);
    const page = await call(emu, 'GET', '/v1/files?limit=4');
    expect((await call(emu, 'DELETE', `/v1/files/${page.json.last_id}`)).status).toBe(200);
    const next = await call(emu, 'GET', `/v1/files?limit=4&after_id=${page.json.last_id}`);
    expect(next.status).toBe(200);
    expect(next.json.data.map((f: { id: string }) => f.id)).toEqual(ids.slice(4, 8));
  });

  it('answers 400 for an unknown cursor and for both cursors at once', async () => {
    const ids = seed(emu, 3);
    expect((await call(emu, 'GET', '/v1/files?after_id=file_unknown')).status).toBe(400);
    expect((await call(emu, 'GET', `/v1/files?after_id=${ids[0]}&before_id=${ids[2]}`)).status).toBe(400);
  });
});

describe('single-file routes', () => {
  it('retrieves metadata, deletes, then answers 404', async () => {
    const created = (await upload(emu, 'x.txt', 'abc', 'text/plain')).json;
    const got = await call(emu, 'GET', `/v1/files/${created.id}`);
    expect(got.json).toEqual(created);
    const del = await call(emu, 'DELETE', `/v1/files/${created.id}`);
    expect(del.json).toEqual({ id: created.id, type: 'file_deleted' });
    expect((await call(emu, 'GET', `/v1/files/${created.id}`)).status).toBe(404);
    const again = await call(emu, 'DELETE', `/v1/files/${created.id}`);
    expect(again.status).toBe(404);
    expect(again.json.error.type).toBe('not_found_error');
    expect(emu.stats().deletes).toBe(1);
    expect(emu.files()).toEqual([]);
  });

  it('refuses the content of an uploaded file with 400 and of a missing one with 404', async () => {
    const created = (await upload(emu, 'x.txt', 'abc')).json;
    const r = await call(emu, 'GET', `/v1/files/${created.id}/content`);
    expect(r.status).toBe(400);
    expect(r.json.error.type).toBe('invalid_request_error');
    expect((await call(emu, 'GET', '/v1/files/file_nope/content')).status).toBe(404);
  });

  it('serves generated bytes of the right size for a downloadable seeded file', async () => {
    const f = emu.addFile({ filename: 'chart.png', sizeBytes: 200_000, downloadable: true });
    expect(f.mimeType).toBe('image/png');
    const res = await request(`${emu.url}/v1/files/${f.id}/content`, { headers: API_HEADERS });
    const bytes = Buffer.from(await res.body.arrayBuffer());
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(bytes.length).toBe(200_000);
    expect(sha256(bytes)).toBe(f.sha256);
  });

  it('lets addFile set every field and refuses a duplicate id', async () => {
    const f = emu.addFile({
      id: 'file_fixedid',
      filename: 'o.txt',
      sizeBytes: 3,
      createdAt: '2025-01-02T03:04:05.678Z',
      sha256: 'abc',
      mimeType: 'text/x',
    });
    expect(f).toEqual({
      id: 'file_fixedid',
      filename: 'o.txt',
      sizeBytes: 3,
      createdAt: '2025-01-02T03:04:05.678Z',
      sha256: 'abc',
      mimeType: 'text/x',
      downloadable: false,
      workspaceId: 'wrkspc_default',
      expiresAt: null,
    });
    expect((await call(emu, 'GET', '/v1/files/file_fixedid')).json.created_at).toBe(
      '2025-01-02T03:04:05.678Z',
    );
    expect(() => emu.addFile({ id: 'file_fixedid', filename: 'p', sizeBytes: 0 })).toThrow();
  });
});

describe('inspection routes', () => {
  it('show state and files without auth, and are not counted as API requests', async () => {
    await upload(emu, 'a.txt', 'a');
    const state = await call(emu, 'GET', '/_emulator/state', { noDefaultHeaders: true });
    expect(state.status).toBe(200);
    expect(state.json.files).toBe(1);
    expect(state.json.stats.requests).toBe(1);
    const files = await call(emu, 'GET', '/_emulator/files', { noDefaultHeaders: true });
    expect(files.json.data).toEqual(emu.files());
    expect(emu.stats().requests).toBe(1);
  });

  it('replace the fault config, seed files and reset', async () => {
    const set = await call(emu, 'POST', '/_emulator/faults', {
      noDefaultHeaders: true,
      body: JSON.stringify({ rate500: 1, seed: 1 }),
    });
    expect(set.json.faults).toEqual({ rate500: 1, seed: 1 });
    expect((await call(emu, 'GET', '/v1/files')).status).toBe(500);
    const bad = await call(emu, 'POST', '/_emulator/faults', {
      noDefaultHeaders: true,
      body: JSON.stringify({ rate500: 7 }),
    });
    expect(bad.status).toBe(400);
    await call(emu, 'POST', '/_emulator/faults', { noDefaultHeaders: true, body: '{}' });
    const seeded = await call(emu, 'POST', '/_emulator/files', {
      noDefaultHeaders: true,
      body: JSON.stringify({ filename: 'other.txt', sizeBytes: 9 }),
    });
    expect(seeded.json.id).toMatch(FILE_ID);
    expect((await call(emu, 'GET', `/v1/files/${seeded.json.id}`)).json.size_bytes).toBe(9);
    const reset = await call(emu, 'POST', '/_emulator/reset', { noDefaultHeaders: true });
    expect(reset.status).toBe(200);
    expect(emu.files()).toEqual([]);
    expect(emu.stats().requests).toBe(0);
    expect((await call(emu, 'GET', '/_emulator/nothing', { noDefaultHeaders: true })).status).toBe(404);
  });
});
