import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FilesClient, FilesClientOptions } from '../../src/api/client.js';
import {
  ConnectionError,
  OverloadedError,
  RateLimitError,
  RequestTimeoutError,
  SourceNotRetryableError,
  UploadOutcomeUnknownError,
} from '../../src/api/errors.js';
import type { FaultOptions, RunningEmulator } from '../../src/emulator/index.js';
import { clientFor, pollUntil, startTestEmulator, tempDir } from './support.js';

type RetryEvent = Parameters<NonNullable<FilesClientOptions['onRetry']>>[0];

let emu: RunningEmulator;
let tmp: { dir: string; cleanup: () => Promise<void> };
const clients: FilesClient[] = [];

beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});
beforeEach(async () => {
  emu = await startTestEmulator();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await emu.close();
});

/** A client whose onRetry records events and, if asked, turns faults off after the first retry. */
function recordingClient(overrides: Partial<FilesClientOptions> = {}, healAfterFirstRetry = true) {
  const retries: RetryEvent[] = [];
  const client = clientFor(emu, {
    ...overrides,
    onRetry: (e) => {
      retries.push(e);
      if (healAfterFirstRetry) emu.setFaults({});
    },
  });
  clients.push(client);
  return { client, retries };
}

async function tempFile(name: string, content: string): Promise<string> {
  const p = join(tmp.dir, name);
  await writeFile(p, content);
  return p;
}

describe('retries each retryable failure', () => {
  it('honours retry-after on 429 (the delay passed to onRetry)', async () => {
    emu.setFaults({ rate429: 1, retryAfterMs: 37 });
    const { client, retries } = recordingClient();
    const page = await client.list();
    expect(page.nextPage).toBeNull();
    expect(retries).toEqual([
      { method: 'GET', route: '/v1/files', attempt: 1, delayMs: 37, reason: '429 rate_limit_error' },
    ]);
  });

  it.each<[string, FaultOptions, string]>([
    ['500', { rate500: 1 }, '500 api_error'],
    ['529', { rate529: 1 }, '529 overloaded_error'],
    ['reset', { rateReset: 1 }, 'ECONNRESET|UND_ERR_SOCKET'],
  ])('list recovers from %s', async (_label, faults, reason) => {
    emu.setFaults(faults);
    const { client, retries } = recordingClient();
    await client.list();
    expect(retries).toHaveLength(1);
    expect(retries[0]?.reason).toMatch(new RegExp(reason));
  });

  it.each<[string, FaultOptions]>([
    ['429', { rate429: 1, retryAfterMs: 5 }],
    ['500', { rate500: 1 }],
    ['529', { rate529: 1 }],
    ['reset', { rateReset: 1 }],
  ])('upload recovers from %s and creates exactly one file', async (label, faults) => {
    const path = await tempFile(`up-${label}.txt`, `content for ${label}`);
    emu.setFaults(faults);
    const { client, retries } = recordingClient();
    const file = await client.upload(path, { filename: `up-${label}.txt` });
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(emu.files().map((f) => f.id)).toEqual([file.id]);
    expect(emu.stats().uploadsCreated).toBe(1);
  });

  it('retrieve and delete recover from 500', async () => {
    const made = emu.addFile({ filename: 'x.txt', sizeBytes: 3 });
    emu.setFaults({ rate500: 1 });
    const { client, retries } = recordingClient();
    expect((await client.retrieve(made.id)).id).toBe(made.id);
    emu.setFaults({ rate500: 1 });
    expect(await client.delete(made.id)).toEqual({ id: made.id, alreadyGone: false });
    expect(retries.map((r) => r.method)).toEqual(['GET', 'DELETE']);
  });

  it('gives up with the typed error once retries are exhausted', async () => {
    emu.setFaults({ rate529: 1 });
    const { client, retries } = recordingClient({ maxRetries: 3 }, false);
    await expect(client.list()).rejects.toBeInstanceOf(OverloadedError);
    expect(retries.map((r) => r.attempt)).toEqual([1, 2, 3]);
    expect(emu.stats().requests).toBe(4);
  });

  it('does not wait past maxRetryTimeMs for a long retry-after', async () => {
    emu.setFaults({ rate429: 1, retryAfterMs: 30_000 });
    const { client, retries } = recordingClient({ maxRetryTimeMs: 1_000 }, false);
    await expect(client.list()).rejects.toBeInstanceOf(RateLimitError);
    expect(retries).toHaveLength(0);
  });
});

describe('uploads whose outcome is unknown', () => {
  it('"created then reset" adopts the created file once the server clock is known', async () => {
    const path = await tempFile('ctr.txt', 'created then reset');
    const { client } = recordingClient({}, false);
    // A first answered upload gives a millisecond estimate of the server's clock.
    const warm = await client.upload(await tempFile('warm.txt', 'w'), { filename: 'warm.txt' });
    // Slower than the warm-up, so the file is provably created after the attempt began.
    emu.setFaults({ rateCreatedThenReset: 1, latencyMs: 50 });
    const file = await client.upload(path, { filename: 'ctr.txt' });
    const remote = emu.files();
    expect(remote.map((f) => f.id).sort()).toEqual([file.id, warm.id].sort());
    expect(file.filename).toBe('ctr.txt');
    expect(emu.stats().uploadsCreated).toBe(2);
    expect(emu.stats().faultsInjected.rateCreatedThenReset).toBe(1);
  });

  it('with no server clock estimate yet, reports the created file as a suspect and uploads again', async () => {
    const path = await tempFile('cold.txt', 'cold client');
    emu.setFaults({ rateCreatedThenReset: 1 });
    const { client } = recordingClient({}, false);
    const suspects: string[] = [];
    const unsettled: string[] = [];
    const file = await client.upload(path, {
      filename: 'cold.txt',
      onSuspects: (files, why) => {
        suspects.push(...files.map((f) => f.id));
        expect(why).toMatch(/too close to the start/);
        emu.setFaults({});
      },
      onUnsettled: (a) => void unsettled.push(a.filename),
    });
    expect(suspects).toHaveLength(1);
    expect(suspects).not.toContain(file.id);
    expect(unsettled).toEqual(['cold.txt']);
    expect(new Set(emu.files().map((f) => f.id))).toEqual(new Set([file.id, ...suspects]));
  });

  it('never adopts a file it already handed out for another upload', async () => {
    const path = await tempFile('same.txt', 'same bytes');
    const { client } = recordingClient({}, false);
    const first = await client.upload(path, { filename: 'same.txt' });
    emu.setFaults({ rateCreatedThenReset: 1 });
    const second = await client.upload(path, { filename: 'same.txt' });
    expect(second.id).not.toBe(first.id);
    expect(new Set(emu.files().map((f) => f.id))).toEqual(new Set([first.id, second.id]));
  });

  it('concurrent ambiguous uploads of the same name and size adopt nothing: every copy is a suspect', async () => {
    const path = await tempFile('twin.txt', 'twin');
    const { client } = recordingClient({}, false);
    await client.upload(await tempFile('warm.txt', 'w'), { filename: 'warm.txt' });
    emu.setFaults({ rateCreatedThenReset: 1 });
    const suspects = new Set<string>();
    const results = await Promise.all(
      Array.from({ length: 4 }, () =>
        client.upload(path, {
          filename: 'twin.txt',
          onSuspects: (files) => {
            for (const f of files) suspects.add(f.id);
            emu.setFaults({});
          },
        }),
      ),
    );
    const ids = new Set(results.map((r) => r.id));
    expect(ids.size).toBe(4);
    expect(suspects.size).toBe(4);
    expect([...ids].filter((id) => suspects.has(id))).toEqual([]);
    expect(emu.files().filter((f) => f.filename === 'twin.txt')).toHaveLength(8);
  });

  it('throws UploadOutcomeUnknownError when the lookup after a timeout fails too', async () => {
    const path = await tempFile('slow.txt', 'slow');
    emu.setFaults({ latencyMs: 3_000 });
    const { client } = recordingClient({ uploadTimeoutMs: 200, timeoutMs: 200, maxRetries: 1 }, false);
    const err = await client.upload(path, { filename: 'slow.txt' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UploadOutcomeUnknownError);
    expect((err as UploadOutcomeUnknownError).context).toMatchObject({ filename: 'slow.txt', sizeBytes: 4 });
    expect((err as Error).cause).toBeInstanceOf(RequestTimeoutError);
  });

  it('will not resend a consumed stream', async () => {
    // 529 is a definitive "not created" (a 500 would first look for the file: see the chaos test).
    emu.setFaults({ rate529: 1 });
    const { client } = recordingClient({}, false);
    const stream = Readable.from([Buffer.from('once only')]);
    const err = await client.upload({ stream, size: 9 }, { filename: 's.txt' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceNotRetryableError);
    expect(emu.stats().requests).toBe(1);
  });

  it('re-sends a path upload after a refused connection without any lookup', async () => {
    const closed = await startTestEmulator();
    const url = closed.url;
    await closed.close();
    const path = await tempFile('refused.txt', 'r');
    const retries: RetryEvent[] = [];
    const c = clientFor({ url }, { maxRetries: 2, onRetry: (e) => retries.push(e) });
    clients.push(c);
    const err = await c.upload(path, { filename: 'refused.txt' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).code).toBe('ECONNREFUSED');
    // Only POST retries: a lookup would have shown up as GET retries.
    expect(retries.map((r) => `${r.method} ${r.reason}`)).toEqual(['POST ECONNREFUSED', 'POST ECONNREFUSED']);
  });
});

describe('timeouts and cancellation', () => {
  it('a reply slower than timeoutMs ends in RequestTimeoutError after the retries', async () => {
    emu.setFaults({ latencyMs: 3_000 });
    const { client, retries } = recordingClient({ timeoutMs: 150, maxRetries: 2 }, false);
    const err = await client.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestTimeoutError);
    expect(retries).toHaveLength(2);
    expect(retries.every((r) => r.reason.startsWith('timeout'))).toBe(true);
  });

  it('an abort cancels a request in flight', async () => {
    emu.setFaults({ latencyMs: 120_000 });
    const { client } = recordingClient({}, false);
    const ctl = new AbortController();
    const outcome = client.list({ signal: ctl.signal }).catch((e: unknown) => e);
    await pollUntil(() => emu.stats().requests >= 1);
    ctl.abort();
    const err = await outcome;
    expect((err as Error).name).toBe('AbortError');
  });

  it('an abort cancels an upload in flight and is not retried', async () => {
    emu.setFaults({ latencyMs: 120_000 });
    const path = await tempFile('abort.txt', 'abort me');
    const { client, retries } = recordingClient({}, false);
    const ctl = new AbortController();
    const outcome = client
      .upload(path, { filename: 'abort.txt', signal: ctl.signal })
      .catch((e: unknown) => e);
    await pollUntil(() => emu.stats().requests >= 1);
    const reason = new Error('user cancelled');
    reason.name = 'AbortError';
    ctl.abort(reason);
    expect(await outcome).toBe(reason);
    expect(retries).toHaveLength(0);
    expect(emu.stats().requests).toBe(1);
  });

  it('an abort during a retry wait ends the wait', async () => {
    emu.setFaults({ rate429: 1, retryAfterMs: 50_000 });
    const ctl = new AbortController();
    const c = clientFor(emu, { onRetry: () => ctl.abort() });
    clients.push(c);
    const err = await c.list({ signal: ctl.signal }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
    expect(emu.stats().requests).toBe(1);
  });
});
