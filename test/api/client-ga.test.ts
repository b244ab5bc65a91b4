import { writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { FilesClient, FilesClientOptions } from '../../src/api/client.js';
import {
  BadRequestError,
  FileExpiredError,
  InvalidRequestOptionError,
  NotFoundError,
  PermissionDeniedError,
  StorageQuotaError,
} from '../../src/api/errors.js';
import type { EmulatorOptions, RunningEmulator } from '../../src/emulator/index.js';
import { clientFor, startTestEmulator, tempDir } from './support.js';

// The client's contract handling against the emulator: GA and beta shapes, the ids filter,
// workspaces, the storage quota and expiry.
const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});

async function setup(
  emuOptions: EmulatorOptions = {},
  clientOptions: Partial<FilesClientOptions> = {},
): Promise<{ emu: RunningEmulator; client: FilesClient }> {
  const emu = await startTestEmulator(emuOptions);
  opened.push(emu);
  const client = clientFor(emu, clientOptions);
  opened.push(client);
  return { emu, client };
}

function stream(text: string): { stream: Readable; size: number } {
  return { stream: Readable.from([Buffer.from(text)]), size: Buffer.byteLength(text) };
}

async function collect(client: FilesClient, pageSize?: number): Promise<string[]> {
  const ids: string[] = [];
  for await (const f of client.listAll(pageSize === undefined ? {} : { pageSize })) ids.push(f.id);
  return ids;
}

describe('contracts', () => {
  it('GA (default) works against a GA-only server, asking for pages of 1000', async () => {
    const { emu, client } = await setup({ gaOnly: true });
    expect(client.contract).toBe('ga');
    const seeded = Array.from(
      { length: 2_100 },
      (_, i) => emu.addFile({ filename: `f${i}`, sizeBytes: 1 }).id,
    );
    expect(new Set(await collect(client))).toEqual(new Set(seeded));
    expect(emu.stats().byRoute['GET /v1/files']).toBe(3);
    const up = await client.upload(stream('ga'), { filename: 'ga.txt' });
    expect(up).toMatchObject({ filename: 'ga.txt', expiresAt: null, downloadable: false });
  });

  it('beta keeps the header and after_id paging, and is refused by a GA-only server', async () => {
    const { emu, client } = await setup({}, { contract: 'beta' });
    const seeded = Array.from({ length: 7 }, (_, i) => emu.addFile({ filename: `b${i}`, sizeBytes: 1 }).id);
    expect(await collect(client, 3)).toEqual([...seeded].reverse());
    const first = await client.list({ limit: 3 });
    expect(first.nextPage).toBe(seeded[4]);
    const up = await client.upload(stream('beta'), { filename: 'beta.txt' });
    expect((await client.retrieveMany([up.id, 'file_nope'])).map((f) => f.id)).toEqual([up.id]);

    const gaOnly = await setup({ gaOnly: true }, { contract: 'beta', maxRetries: 0 });
    await expect(gaOnly.client.list()).rejects.toBeInstanceOf(BadRequestError);
  });
});

describe('retrieveMany (ids filter)', () => {
  it('de-duplicates, batches by 100 and returns only the visible files', async () => {
    const { emu, client } = await setup({ gaOnly: true });
    const ids = Array.from({ length: 230 }, (_, i) => emu.addFile({ filename: `i${i}`, sizeBytes: i }).id);
    const deleted = ids[7] ?? '';
    await client.delete(deleted);
    const before = emu.stats().byRoute['GET /v1/files'] ?? 0;
    const asked = [...ids, ...ids.slice(0, 50), 'file_unknown_1', 'file_unknown_2'];
    const found = await client.retrieveMany(asked);
    // 232 unique IDs: three requests of at most 100.
    expect((emu.stats().byRoute['GET /v1/files'] ?? 0) - before).toBe(3);
    expect(found.map((f) => f.id).sort()).toEqual(ids.filter((id) => id !== deleted).sort());
    expect(await client.retrieveMany([])).toEqual([]);
    expect((emu.stats().byRoute['GET /v1/files'] ?? 0) - before).toBe(3);
  });
});

describe('workspaces', () => {
  it('sends anthropic-workspace-id; each workspace client sees only its files', async () => {
    const { emu } = await setup({ workspaces: ['wrkspc_a', 'wrkspc_b'] });
    const a = clientFor(emu, { workspaceId: 'wrkspc_a' });
    const b = clientFor(emu, { workspaceId: 'wrkspc_b' });
    const none = clientFor(emu, { maxRetries: 0 });
    opened.push(a, b, none);
    const fa = await a.upload(stream('A'), { filename: 'a.txt' });
    const fb = await b.upload(stream('B'), { filename: 'b.txt' });
    expect(await collect(a)).toEqual([fa.id]);
    expect(await collect(b)).toEqual([fb.id]);
    expect((await a.retrieveMany([fa.id, fb.id])).map((f) => f.id)).toEqual([fa.id]);
    await expect(a.retrieve(fb.id)).rejects.toBeInstanceOf(NotFoundError);
    expect(await a.delete(fb.id)).toEqual({ id: fb.id, alreadyGone: true });
    expect(emu.files()).toHaveLength(2);
    await expect(none.list()).rejects.toBeInstanceOf(BadRequestError);
  });

  it('a bound key with another workspace id is refused, not retried', async () => {
    const { emu, client } = await setup({ workspaces: ['wrkspc_mine'] }, { workspaceId: 'wrkspc_other' });
    await expect(client.list()).rejects.toBeInstanceOf(PermissionDeniedError);
    expect(emu.stats().requests).toBe(1);
  });
});

describe('storage quota', () => {
  it('is a StorageQuotaError, sent once and never retried (path and stream uploads)', async () => {
    const { emu, client } = await setup({ storageQuotaBytes: 4 }, { maxRetries: 6 });
    const tmp = await tempDir();
    opened.push({ close: tmp.cleanup });
    const path = `${tmp.dir}/big.txt`;
    await writeFile(path, 'more than four bytes');
    const retries: string[] = [];
    const c = clientFor(emu, { maxRetries: 6, onRetry: (i) => retries.push(i.reason) });
    opened.push(c);
    const err = await c.upload(path, { filename: 'big.txt' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageQuotaError);
    expect(err).toMatchObject({ kind: 'storage_quota', status: 400, errorCode: 'storage_quota_exceeded' });
    expect((err as Error).message).toContain('storage_quota_exceeded');
    const streamErr = await client
      .upload(stream('also too big'), { filename: 's.txt' })
      .catch((e: unknown) => e);
    expect(streamErr).toBeInstanceOf(StorageQuotaError);
    expect(emu.stats().byRoute['POST /v1/files']).toBe(2);
    expect(retries).toEqual([]);
    expect(emu.files()).toEqual([]);
  });
});

describe('expiry', () => {
  it('uploads with expiresInSeconds, records expiresAt, and treats file_expired as gone', async () => {
    const { emu, client } = await setup({ gaOnly: true });
    const up = await client.upload(stream('short-lived'), { filename: 'e.txt', expiresInSeconds: 3600 });
    expect(Date.parse(up.expiresAt ?? '') - Date.parse(up.createdAt)).toBe(3_600_000);
    expect((await client.retrieve(up.id)).expiresAt).toBe(up.expiresAt);
    const keep = await client.upload(stream('kept'), { filename: 'k.txt' });
    emu.advanceTime(3_600_000);
    const err = await client.retrieve(up.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileExpiredError);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(await collect(client)).toEqual([keep.id]);
    expect((await client.retrieveMany([up.id, keep.id])).map((f) => f.id)).toEqual([keep.id]);
    expect(await client.delete(up.id)).toEqual({ id: up.id, alreadyGone: true });
  });

  it('refuses an out-of-range expiresInSeconds before sending anything', async () => {
    const { emu, client } = await setup();
    for (const bad of [3599, 7_776_001, 4000.5]) {
      const err = await client
        .upload(stream('x'), { filename: 'x.txt', expiresInSeconds: bad })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidRequestOptionError);
      expect((err as Error).message).toContain('expiresInSeconds');
    }
    expect(emu.stats().requests).toBe(0);
  });
});
