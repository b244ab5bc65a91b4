import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { call, upload } from './support.js';

const started: RunningEmulator[] = [];
async function start(...args: Parameters<typeof startEmulator>): Promise<RunningEmulator> {
  const emu = await startEmulator(...args);
  started.push(emu);
  return emu;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((e) => e.close()));
});

/** Sends `n` list requests in sequence and counts the outcomes by status (or 'reset'). */
async function statuses(emu: RunningEmulator, n: number): Promise<(number | 'reset')[]> {
  const out: (number | 'reset')[] = [];
  for (let i = 0; i < n; i++) {
    try {
      out.push((await call(emu, 'GET', '/v1/files')).status);
    } catch {
      out.push('reset');
    }
  }
  return out;
}

function count<T>(xs: T[], x: T): number {
  return xs.filter((v) => v === x).length;
}

describe('fault injection', () => {
  it('checks credentials before any fault or rate limit, like the real API', async () => {
    const emu = await start({
      apiKey: 'the-right-key',
      faults: { rate500: 1, seed: 1 },
      requestsPerMinute: 1,
    });
    for (let i = 0; i < 3; i++) {
      const r = await call(emu, 'GET', '/v1/files', { headers: { 'x-api-key': 'a-wrong-key' } });
      expect(r.status).toBe(401);
    }
    expect(emu.stats().faultsInjected['rate500'] ?? 0).toBe(0);
    expect(emu.stats().faultsInjected['rpmLimit'] ?? 0).toBe(0);
  });

  it('roughly honours the rates with a fixed seed, and stats count exactly what was injected', async () => {
    const emu = await start({
      faults: { rate429: 0.1, rate500: 0.1, rate529: 0.1, rateReset: 0.05, seed: 1234 },
    });
    const got = await statuses(emu, 400);
    const faults = emu.stats().faultsInjected;
    expect(count(got, 429)).toBe(faults['rate429']);
    expect(count(got, 500)).toBe(faults['rate500']);
    expect(count(got, 529)).toBe(faults['rate529']);
    expect(count(got, 'reset')).toBe(faults['rateReset']);
    for (const k of [429, 500, 529] as const) {
      expect(count(got, k)).toBeGreaterThan(20);
      expect(count(got, k)).toBeLessThan(65);
    }
    expect(count(got, 'reset')).toBeGreaterThan(5);
    expect(count(got, 'reset')).toBeLessThan(40);
    expect(count(got, 200)).toBe(
      400 - count(got, 429) - count(got, 500) - count(got, 529) - count(got, 'reset'),
    );
  });

  it('repeats the same fault sequence for the same seed', async () => {
    const faults = { rate500: 0.3, rate529: 0.2, seed: 99 };
    const a = await start({ faults });
    const b = await start({ faults });
    expect(await statuses(a, 60)).toEqual(await statuses(b, 60));
  });

  it('sends retry-after (seconds, rounded up) and retry-after-ms with an injected 429', async () => {
    const emu = await start({ faults: { rate429: 1, retryAfterMs: 1500, seed: 1 } });
    const r = await call(emu, 'GET', '/v1/files');
    expect(r.status).toBe(429);
    expect(r.json.error.type).toBe('rate_limit_error');
    expect(r.headers['retry-after']).toBe('2');
    expect(r.headers['retry-after-ms']).toBe('1500');
  });

  it('answers 500 api_error and 529 overloaded_error with the error body', async () => {
    const emu = await start({ faults: { rate500: 1, seed: 1 } });
    const r500 = await call(emu, 'GET', '/v1/files');
    expect(r500.json).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    emu.setFaults({ rate529: 1, seed: 1 });
    const r529 = await call(emu, 'GET', '/v1/files');
    expect(r529.status).toBe(529);
    expect(r529.json.error.type).toBe('overloaded_error');
  });

  it('drains an upload before answering an injected error, so the client hears it', async () => {
    const emu = await start({ faults: { rate500: 1, seed: 1 } });
    const r = await upload(emu, 'big.bin', Buffer.alloc(2 * 1024 * 1024));
    expect(r.status).toBe(500);
    expect(emu.files()).toEqual([]);
  });

  it('reset: the socket is destroyed and the upload is NOT processed', async () => {
    const emu = await start({ faults: { rateReset: 1, seed: 1 } });
    await expect(upload(emu, 'a.txt', 'x')).rejects.toThrow();
    expect(emu.files()).toEqual([]);
    expect(emu.stats().faultsInjected['rateReset']).toBe(1);
  });

  it('created-then-reset: the file exists although the client got no answer', async () => {
    const emu = await start({ faults: { rateCreatedThenReset: 1, seed: 1 } });
    await expect(upload(emu, 'ghost.txt', 'boo')).rejects.toThrow();
    expect(emu.files().map((f) => f.filename)).toEqual(['ghost.txt']);
    expect(emu.stats().uploadsCreated).toBe(1);
    expect(emu.stats().faultsInjected['rateCreatedThenReset']).toBe(1);
    // Only uploads are affected.
    expect((await call(emu, 'GET', '/v1/files')).status).toBe(200);
  });

  it('never faults the inspection routes, and setFaults turns faults off', async () => {
    const emu = await start({ faults: { rateReset: 1, seed: 1 } });
    for (let i = 0; i < 5; i++)
      expect((await call(emu, 'GET', '/_emulator/state', { noDefaultHeaders: true })).status).toBe(200);
    emu.setFaults({});
    expect((await call(emu, 'GET', '/v1/files')).status).toBe(200);
  });

  it('still answers correctly with added latency', async () => {
    const emu = await start({ faults: { latencyMs: 20 } });
    expect((await upload(emu, 'slow.txt', 'x')).status).toBe(200);
    expect((await call(emu, 'GET', '/v1/files')).json.data).toHaveLength(1);
  });
});

describe('requestsPerMinute', () => {
  it('answers 429 with retry-after once the window is full; inspection routes are exempt', async () => {
    const emu = await start({ requestsPerMinute: 5 });
    for (let i = 0; i < 5; i++) expect((await call(emu, 'GET', '/v1/files')).status).toBe(200);
    for (let i = 0; i < 3; i++)
      expect((await call(emu, 'GET', '/_emulator/state', { noDefaultHeaders: true })).status).toBe(200);
    const limited = await call(emu, 'GET', '/v1/files');
    expect(limited.status).toBe(429);
    expect(limited.json.error.type).toBe('rate_limit_error');
    const seconds = Number(limited.headers['retry-after']);
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(60);
    expect(Number(limited.headers['retry-after-ms'])).toBeGreaterThan(0);
    expect(emu.stats().faultsInjected['rpmLimit']).toBe(1);
    // A reset frees the window.
    await call(emu, 'POST', '/_emulator/reset', { noDefaultHeaders: true });
    expect((await call(emu, 'GET', '/v1/files')).status).toBe(200);
  });
});
