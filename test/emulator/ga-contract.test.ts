import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../src/emulator/index.js';
import { GA, call, gaWith, multipart, seed, type Part } from './support.js';

// Raw HTTP against the GA contract (no beta header), the workspace model, the quota switch and
// expiry; the SDK's view of the same is in sdk-compat.test.ts.
let emu: RunningEmulator;
afterEach(async () => {
  await emu.close();
});

async function start(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  emu = await startEmulator(options);
  return emu;
}

function ids(r: { json: { data: { id: string }[] } }): string[] {
  return r.json.data.map((f) => f.id);
}

async function gaUpload(
  name: string,
  content: string,
  extra: { expires?: string; workspace?: string } = {},
): Promise<Awaited<ReturnType<typeof call>>> {
  const parts: Part[] = [{ name: 'file', filename: name, contentType: 'text/plain', content }];
  if (extra.expires !== undefined) parts.unshift({ name: 'expires_in_seconds', content: extra.expires });
  const { body, contentType } = multipart(parts);
  const headers: Record<string, string> = { 'content-type': contentType };
  if (extra.workspace !== undefined) headers['anthropic-workspace-id'] = extra.workspace;
  return call(emu, 'POST', '/v1/files', { ...gaWith(headers), body });
}

describe('GA listing', () => {
  it('defaults to 20, pages with opaque page_ cursors to next_page null, and bounds limit to 1..1000', async () => {
    await start();
    const all = seed(emu, 45);
    const first = await call(emu, 'GET', '/v1/files', GA);
    expect(Object.keys(first.json).sort()).toEqual(['data', 'next_page']);
    expect(first.json.data).toHaveLength(20);
    expect(first.json.next_page).toMatch(/^page_/);
    const seen = ids(first);
    let token: string | null = first.json.next_page;
    while (token !== null) {
      const r = await call(emu, 'GET', `/v1/files?limit=20&page=${encodeURIComponent(token)}`, GA);
      seen.push(...ids(r));
      token = r.json.next_page;
    }
    expect(seen.sort()).toEqual([...all].sort());
    for (const bad of ['0', '1001', 'x'])
      expect((await call(emu, 'GET', `/v1/files?limit=${bad}`, GA)).status).toBe(400);
    expect((await call(emu, 'GET', '/v1/files?limit=1000', GA)).json.data).toHaveLength(45);
    expect((await call(emu, 'GET', '/v1/files?page=file_abc', GA)).status).toBe(400);
    expect((await call(emu, 'GET', `/v1/files?after_id=${all[0]}`, GA)).status).toBe(400);
  });

  it('filters by ids: de-duplicated, invisible and deleted ones omitted, at most 100, never with page/limit', async () => {
    await start();
    const [a, b, c] = seed(emu, 3) as [string, string, string];
    await call(emu, 'DELETE', `/v1/files/${c}`, GA);
    const r = await call(
      emu,
      'GET',
      `/v1/files?ids[]=${a}&ids[]=${a}&ids[]=${c}&ids[]=file_nope&ids[]=${b}`,
      GA,
    );
    expect(r.status).toBe(200);
    expect(ids(r).sort()).toEqual([a, b].sort());
    expect(r.json.next_page).toBeNull();
    const plain = await call(emu, 'GET', `/v1/files?ids=${a}`, GA);
    expect(ids(plain)).toEqual([a]);
    expect((await call(emu, 'GET', `/v1/files?ids[]=${a}&limit=5`, GA)).status).toBe(400);
    expect((await call(emu, 'GET', `/v1/files?ids[]=${a}&page=page_x`, GA)).status).toBe(400);
    const hundred = Array.from({ length: 100 }, (_, i) => `ids[]=file_${i}`).join('&');
    expect((await call(emu, 'GET', `/v1/files?${hundred}&ids[]=file_0`, GA)).status).toBe(200);
    expect((await call(emu, 'GET', `/v1/files?${hundred}&ids[]=file_100`, GA)).status).toBe(400);
  });
});

describe('GA-only mode', () => {
  it('refuses the files beta header with 400 and serves GA requests', async () => {
    await start({ gaOnly: true });
    const beta = await call(emu, 'GET', '/v1/files');
    expect(beta.status).toBe(400);
    expect(beta.json.error.message).toMatch(/no longer supported/);
    expect((await call(emu, 'GET', '/v1/files', GA)).status).toBe(200);
  });
});

describe('workspaces', () => {
  it('a bound key accepts its own workspace header and refuses another with 403', async () => {
    await start({ workspaces: ['wrkspc_only'] });
    expect(
      (await call(emu, 'GET', '/v1/files', gaWith({ 'anthropic-workspace-id': 'wrkspc_only' }))).status,
    ).toBe(200);
    const other = await call(emu, 'GET', '/v1/files', gaWith({ 'anthropic-workspace-id': 'wrkspc_x' }));
    expect(other.status).toBe(403);
    expect(other.json.error.type).toBe('permission_error');
  });

  it('a key spanning workspaces must name one, and each sees only its own files', async () => {
    await start({ workspaces: ['wrkspc_a', 'wrkspc_b'] });
    expect((await call(emu, 'GET', '/v1/files', GA)).status).toBe(400);
    const a = await gaUpload('a.txt', 'A', { workspace: 'wrkspc_a' });
    const b = await gaUpload('b.txt', 'B', { workspace: 'wrkspc_b' });
    const inA = await call(
      emu,
      'GET',
      `/v1/files?ids[]=${a.json.id}&ids[]=${b.json.id}`,
      gaWith({ 'anthropic-workspace-id': 'wrkspc_a' }),
    );
    expect(ids(inA)).toEqual([a.json.id]);
    const getB = await call(
      emu,
      'GET',
      `/v1/files/${b.json.id}`,
      gaWith({ 'anthropic-workspace-id': 'wrkspc_a' }),
    );
    expect(getB.status).toBe(404);
    expect(
      emu
        .files()
        .map((f) => [f.filename, f.workspaceId])
        .sort(),
    ).toEqual([
      ['a.txt', 'wrkspc_a'],
      ['b.txt', 'wrkspc_b'],
    ]);
  });
});

describe('storage quota', () => {
  it('answers 400 storage_quota_exceeded once stored bytes would pass the quota; deletes free space', async () => {
    await start({ storageQuotaBytes: 10 });
    const ok = await gaUpload('a.txt', '123456');
    expect(ok.status).toBe(200);
    const over = await gaUpload('b.txt', '123456');
    expect(over.status).toBe(400);
    expect(over.json.error).toMatchObject({
      type: 'invalid_request_error',
      details: { error_code: 'storage_quota_exceeded' },
    });
    expect(emu.files()).toHaveLength(1);
    await call(emu, 'DELETE', `/v1/files/${ok.json.id}`, GA);
    expect((await gaUpload('b.txt', '123456')).status).toBe(200);
    // The switch is also reachable from another process.
    const set = await call(emu, 'POST', '/_emulator/quota', {
      noDefaultHeaders: true,
      body: '{"bytes":null}',
    });
    expect(set.status).toBe(200);
    expect((await gaUpload('c.txt', '123456')).status).toBe(200);
  });
});

describe('expiry', () => {
  it('sets expires_at, hides the file once it passed, and answers 404 file_expired', async () => {
    await start();
    const r = await gaUpload('e.txt', 'bytes', { expires: '3600' });
    expect(r.status).toBe(200);
    expect(Date.parse(r.json.expires_at) - Date.parse(r.json.created_at)).toBe(3_600_000);
    for (const bad of ['3599', '7776001', '1.5', 'soon'])
      expect((await gaUpload('bad.txt', 'x', { expires: bad })).status).toBe(400);
    const advance = await call(emu, 'POST', '/_emulator/clock', {
      noDefaultHeaders: true,
      body: '{"advanceMs":3599000}',
    });
    expect(advance.status).toBe(200);
    expect((await call(emu, 'GET', `/v1/files/${r.json.id}`, GA)).status).toBe(200);
    emu.advanceTime(1000);
    const gone = await call(emu, 'GET', `/v1/files/${r.json.id}`, GA);
    expect(gone.status).toBe(404);
    expect(gone.json.error.details).toEqual({ error_code: 'file_expired' });
    expect(ids(await call(emu, 'GET', '/v1/files', GA))).toEqual([]);
    expect((await call(emu, 'DELETE', `/v1/files/${r.json.id}`, GA)).json.error.details.error_code).toBe(
      'file_expired',
    );
    const state = await call(emu, 'GET', '/_emulator/state', { noDefaultHeaders: true });
    expect(state.json).toMatchObject({ files: 0, storedBytes: 0, gaOnly: false });
  });
});
