import { createHash } from 'node:crypto';
import Anthropic, { NotFoundError, toFile } from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';

// The official SDK is the reference client: if it works against the emulator, so does the API shape.
const BETAS = ['files-api-2025-04-14'] as const;
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

describe('@anthropic-ai/sdk against the emulator', () => {
  it('uploads a file and reads back its metadata', async () => {
    const content = Buffer.from('%PDF-1.4 pretend pdf\n');
    const uploaded = await client.beta.files.upload({
      file: await toFile(content, 'contracts/acme.pdf', { type: 'application/pdf' }),
      betas: [...BETAS],
    });
    expect(uploaded).toMatchObject({
      type: 'file',
      filename: 'acme.pdf',
      mime_type: 'application/pdf',
      size_bytes: content.length,
      downloadable: false,
    });
    expect(uploaded.id).toMatch(/^file_[0-9A-Za-z]{24}$/);
    expect(emu.files()[0]?.sha256).toBe(createHash('sha256').update(content).digest('hex'));

    const meta = await client.beta.files.retrieveMetadata(uploaded.id, { betas: [...BETAS] });
    expect(meta).toEqual(uploaded);
  });

  it('auto-paginates a listing of more than 120 files', async () => {
    const before = emu.files().length;
    for (let i = 0; i < 130; i++) emu.addFile({ filename: `other-${i}.txt`, sizeBytes: i });
    const seen: string[] = [];
    for await (const f of client.beta.files.list({ limit: 50, betas: [...BETAS] })) seen.push(f.id);
    expect(seen).toHaveLength(before + 130);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(emu.files().map((f) => f.id));
    // Three pages of 50 were needed.
    expect(emu.stats().byRoute['GET /v1/files']).toBeGreaterThanOrEqual(3);
  });

  it('deletes a file, after which retrieval fails with NotFoundError', async () => {
    const uploaded = await client.beta.files.upload({
      file: await toFile(Buffer.from('bye'), 'bye.txt', { type: 'text/plain' }),
      betas: [...BETAS],
    });
    const deleted = await client.beta.files.delete(uploaded.id, { betas: [...BETAS] });
    expect(deleted).toEqual({ id: uploaded.id, type: 'file_deleted' });
    const err = await client.beta.files
      .retrieveMetadata(uploaded.id, { betas: [...BETAS] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).status).toBe(404);
    expect((err as NotFoundError).requestID).toMatch(/^req_/);
  });

  it('surfaces a wrong key as AuthenticationError', async () => {
    const bad = new Anthropic({ apiKey: 'sk-ant-wrong', baseURL: emu.url, maxRetries: 0 });
    await expect(bad.beta.files.retrieveMetadata('file_x', { betas: [...BETAS] })).rejects.toBeInstanceOf(
      Anthropic.AuthenticationError,
    );
  });

  it('downloads a downloadable file', async () => {
    const f = emu.addFile({ filename: 'out.csv', sizeBytes: 4096, downloadable: true });
    const res = await client.beta.files.download(f.id, { betas: [...BETAS] });
    expect((await res.arrayBuffer()).byteLength).toBe(4096);
  });
});
