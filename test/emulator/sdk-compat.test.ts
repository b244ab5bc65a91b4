import { createHash } from 'node:crypto';
import Anthropic, {
  AuthenticationError,
  BadRequestError,
  NotFoundError,
  PermissionDeniedError,
  toFile,
} from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';

// The official SDK is the reference client: if it works against the emulator, so does the API
// shape. `client.files` is the GA namespace; `client.beta.files` (SDK >= 0.122) sends no beta
// header and gets the same GA shapes, unless `betas` asks for the legacy beta contract.
const BETAS = ['files-api-2025-04-14'] as const;
// The Files error classes are exported on the client class only, not from the package root.
const { FileExpiredError, FileNotDownloadableError, StorageQuotaExceededError } = Anthropic;
const API_KEY = 'sk-ant-emulator-compat-key';

let emu: RunningEmulator;
let client: Anthropic;

beforeAll(async () => {
  emu = await startEmulator({ apiKey: API_KEY });
  client = new Anthropic({ apiKey: API_KEY, baseURL: emu.url, maxRetries: 0 });
});
afterAll(async () => {
  await emu.close();
});
beforeEach(() => {
  emu.setStorageQuota(null);
});

async function pdf(name = 'contracts/acme.pdf', body = '%PDF-1.4 pretend pdf\n') {
  return toFile(Buffer.from(body), name, { type: 'application/pdf' });
}

describe('client.files (GA) against the emulator', () => {
  it('uploads a file and reads back its metadata', async () => {
    const content = Buffer.from('%PDF-1.4 pretend pdf\n');
    const uploaded = await client.files.upload({ file: await pdf() });
    expect(uploaded).toEqual({
      id: expect.stringMatching(/^file_[0-9A-Za-z]{24}$/),
      type: 'file',
      filename: 'acme.pdf',
      mime_type: 'application/pdf',
      size_bytes: content.length,
      created_at: expect.any(String),
      downloadable: false,
      expires_at: null,
    });
    expect(emu.files().find((f) => f.id === uploaded.id)?.sha256).toBe(
      createHash('sha256').update(content).digest('hex'),
    );
    expect(await client.files.retrieveMetadata(uploaded.id)).toEqual(uploaded);
  });

  it('records expires_in_seconds as expires_at = created_at + seconds', async () => {
    const uploaded = await client.files.upload({ file: await pdf('e.pdf'), expires_in_seconds: 3600 });
    expect(Date.parse(uploaded.expires_at ?? '') - Date.parse(uploaded.created_at)).toBe(3_600_000);
    const tooShort = await client.files
      .upload({ file: await pdf('short.pdf'), expires_in_seconds: 60 })
      .catch((e: unknown) => e);
    expect(tooShort).toBeInstanceOf(BadRequestError);
  });

  it('auto-paginates with page/next_page and filters by ids (brackets encoding)', async () => {
    for (let i = 0; i < 130; i++) emu.addFile({ filename: `other-${i}.txt`, sizeBytes: i });
    const before = emu.stats().byRoute['GET /v1/files'] ?? 0;
    const seen: string[] = [];
    for await (const f of client.files.list({ limit: 50 })) seen.push(f.id);
    expect(new Set(seen).size).toBe(seen.length);
    expect(new Set(seen)).toEqual(new Set(emu.files().map((f) => f.id)));
    expect((emu.stats().byRoute['GET /v1/files'] ?? 0) - before).toBe(Math.ceil(seen.length / 50));

    const first = await client.files.list({ limit: 2 });
    expect(first.next_page).toMatch(/^page_/);

    const wanted = [seen[0] ?? '', seen[5] ?? '', seen[0] ?? '', 'file_not_there'];
    const byIds = await client.files.list({ ids: wanted });
    expect(byIds.data.map((f) => f.id).sort()).toEqual([seen[0], seen[5]].sort());
    expect(byIds.next_page).toBeNull();
    const mixed = await client.files.list({ ids: wanted, limit: 5 }).catch((e: unknown) => e);
    expect(mixed).toBeInstanceOf(BadRequestError);
  });

  it('deletes a file, after which retrieval fails with NotFoundError', async () => {
    const uploaded = await client.files.upload({
      file: await toFile(Buffer.from('bye'), 'bye.txt', { type: 'text/plain' }),
    });
    expect(await client.files.delete(uploaded.id)).toEqual({ id: uploaded.id, type: 'file_deleted' });
    const err = await client.files.retrieveMetadata(uploaded.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).not.toBeInstanceOf(FileExpiredError);
    expect((err as NotFoundError).requestID).toMatch(/^req_/);
  });

  it('maps storage_quota_exceeded, file_expired and file_not_downloadable to the SDK typed errors', async () => {
    emu.setStorageQuota(0);
    const quota = await client.files.upload({ file: await pdf('q.pdf') }).catch((e: unknown) => e);
    expect(quota).toBeInstanceOf(StorageQuotaExceededError);
    expect((quota as InstanceType<typeof StorageQuotaExceededError>).errorCode).toBe(
      'storage_quota_exceeded',
    );
    expect((quota as InstanceType<typeof StorageQuotaExceededError>).workspaceID).toBe('wrkspc_default');
    emu.setStorageQuota(null);

    const expiring = await client.files.upload({ file: await pdf('x.pdf'), expires_in_seconds: 3600 });
    emu.advanceTime(3_600_000);
    const expired = await client.files.retrieveMetadata(expiring.id).catch((e: unknown) => e);
    expect(expired).toBeInstanceOf(FileExpiredError);
    const listed: string[] = [];
    for await (const f of client.files.list({ limit: 1000 })) listed.push(f.id);
    expect(listed).not.toContain(expiring.id);

    const plain = await client.files.upload({ file: await pdf('n.pdf') });
    const dl = await client.files.download(plain.id).catch((e: unknown) => e);
    expect(dl).toBeInstanceOf(FileNotDownloadableError);
  });

  it('surfaces a wrong key as AuthenticationError', async () => {
    const bad = new Anthropic({ apiKey: 'sk-ant-wrong', baseURL: emu.url, maxRetries: 0 });
    await expect(bad.files.retrieveMetadata('file_x')).rejects.toBeInstanceOf(AuthenticationError);
  });

  it('downloads a downloadable file', async () => {
    const f = emu.addFile({ filename: 'out.csv', sizeBytes: 4096, downloadable: true });
    const res = await client.files.download(f.id);
    expect((await res.arrayBuffer()).byteLength).toBe(4096);
  });

  it('refuses a workspace_id that is not the bound key’s workspace', async () => {
    const err = await client.files.list({ workspace_id: 'wrkspc_other' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermissionDeniedError);
    await expect(client.files.list({ workspace_id: 'wrkspc_default' })).resolves.toBeDefined();
  });
});

describe('client.beta.files against the emulator', () => {
  it('gets the GA shapes without `betas`: upload, paginate, retrieve, delete', async () => {
    const uploaded = await client.beta.files.upload({ file: await pdf('beta-ns.pdf') });
    expect(uploaded).toMatchObject({ filename: 'beta-ns.pdf', expires_at: null, downloadable: false });
    const seen: string[] = [];
    for await (const f of client.beta.files.list({ limit: 40 })) seen.push(f.id);
    expect(seen).toContain(uploaded.id);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(emu.files().length);
    const byIds = await client.beta.files.list({ ids: [uploaded.id] });
    expect(byIds.data.map((f) => f.id)).toEqual([uploaded.id]);
    expect(await client.beta.files.retrieveMetadata(uploaded.id)).toEqual(uploaded);
    await client.beta.files.delete(uploaded.id);
    await expect(client.beta.files.retrieveMetadata(uploaded.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('with `betas` still uploads, retrieves and deletes (same file object in both contracts)', async () => {
    const uploaded = await client.beta.files.upload({ file: await pdf('legacy.pdf'), betas: [...BETAS] });
    const meta = await client.beta.files.retrieveMetadata(uploaded.id, { betas: [...BETAS] });
    expect(meta).toEqual(uploaded);
    const deleted = await client.beta.files.delete(uploaded.id, { betas: [...BETAS] });
    expect(deleted).toEqual({ id: uploaded.id, type: 'file_deleted' });
  });
});

describe('GA-only emulator with a key spanning two workspaces', () => {
  let ga: RunningEmulator;
  let sdk: Anthropic;
  beforeAll(async () => {
    ga = await startEmulator({ apiKey: API_KEY, gaOnly: true, workspaces: ['wrkspc_a', 'wrkspc_b'] });
    sdk = new Anthropic({ apiKey: API_KEY, baseURL: ga.url, maxRetries: 0 });
  });
  afterAll(async () => {
    await ga.close();
  });

  it('refuses the beta header and shows each workspace only its own files', async () => {
    const refused = await sdk.beta.files
      .list({ betas: [...BETAS], workspace_id: 'wrkspc_a' })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BadRequestError);

    const a = await sdk.files.upload({ file: await pdf('a.pdf'), workspace_id: 'wrkspc_a' });
    const b = await sdk.files.upload({ file: await pdf('b.pdf'), workspace_id: 'wrkspc_b' });
    const inA: string[] = [];
    for await (const f of sdk.files.list({ workspace_id: 'wrkspc_a' })) inA.push(f.id);
    expect(inA).toEqual([a.id]);
    await expect(sdk.files.retrieveMetadata(b.id, { workspace_id: 'wrkspc_a' })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(sdk.files.delete(a.id, { workspace_id: 'wrkspc_b' })).rejects.toBeInstanceOf(NotFoundError);
    const missing = await sdk.files.list().catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(BadRequestError);
    const unknown = await sdk.files.list({ workspace_id: 'wrkspc_c' }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(PermissionDeniedError);
  });
});
