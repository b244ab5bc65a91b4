/**
 * The client-wide circuit breaker and storage-quota pause: the state machine with an injected
 * clock, then the real client against the emulator (every request failing, a refused key, a full
 * storage).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { ApiHealth, BreakerOpenError, type ApiHealthSnapshot } from '../../src/api/breaker.js';
import {
  AuthenticationError,
  ConnectionError,
  InternalServerError,
  StorageQuotaError,
} from '../../src/api/errors.js';
import { clientFor, emulatorPerTest } from './support.js';

const refused = () =>
  new ConnectionError('GET /v1/files: connection failed (ECONNREFUSED)', {
    method: 'GET',
    route: '/v1/files',
    code: 'ECONNREFUSED',
  });
const overloaded = () =>
  new InternalServerError('GET /v1/files: 500 api_error', { status: 500, method: 'GET', route: '/v1/files' });

describe('ApiHealth (state machine)', () => {
  let t = 0;
  const now = () => t;
  beforeEach(() => {
    t = 1_000_000;
  });

  it('opens after `threshold` failures of one kind in a row; another kind or a success restarts the count', () => {
    const h = new ApiHealth({ threshold: 3, now });
    for (const e of [refused(), refused(), overloaded(), overloaded(), undefined, overloaded(), overloaded()])
      h.admit(false)(e);
    expect(h.degraded).toBe(false);
    h.admit(false)(overloaded());
    expect(h.snapshot()).toMatchObject({
      breaker: 'open',
      cause: { kind: 'server', message: 'API failing (500 server)', failures: 3 },
    });
    expect(() => h.admit(false)).toThrow(BreakerOpenError);
  });

  it('lets one probe through after the cooldown; a failed probe doubles it, a good one closes', () => {
    const changes: ApiHealthSnapshot[] = [];
    const h = new ApiHealth({ threshold: 1, baseCooldownMs: 100, maxCooldownMs: 300, now });
    h.onChange((s) => changes.push(s));
    h.admit(false)(refused());
    expect(h.msUntilProbe()).toBe(100);
    t += 100;
    const probe = h.admit(false);
    // Only one probe at a time.
    expect(() => h.admit(false)).toThrow(/API unreachable \(ECONNREFUSED\)/);
    probe(refused());
    expect(h.msUntilProbe()).toBe(200);
    t += 200;
    h.admit(false)(refused());
    expect(h.msUntilProbe()).toBe(300);
    t += 300;
    h.admit(false)();
    expect(h.degraded).toBe(false);
    expect(changes.at(-1)).toEqual({ breaker: 'closed' });
  });

  it('a 401 opens it at once and names where the key came from', () => {
    const h = new ApiHealth({ keySource: 'the key file /etc/files-sync/key', now });
    h.admit(false)(new AuthenticationError('x', { status: 401, method: 'GET', route: '/v1/files' }));
    expect(h.snapshot().cause?.message).toBe('API key refused (401): check the key file /etc/files-sync/key');
  });

  it('pauses uploads (not other requests) after storage_quota_exceeded until the pause runs out', () => {
    const h = new ApiHealth({ quotaRetryMs: 1_000, now });
    h.admit(true)(
      new StorageQuotaError('full', {
        status: 400,
        method: 'POST',
        route: '/v1/files',
        errorCode: 'storage_quota_exceeded',
      }),
    );
    expect(() => h.admit(true)).toThrow(StorageQuotaError);
    expect(() => h.admit(false)).not.toThrow();
    expect(h.snapshot().quota?.message).toMatch(/^storage quota exceeded/);
    t += 1_000;
    const retry = h.admit(true);
    retry();
    expect(h.snapshot().quota).toBeUndefined();
  });
});

describe('the client behind the breaker (emulator)', () => {
  const t = emulatorPerTest();

  it('with every request failing, 50 concurrent uploads cost about one attempt each, not 7', async () => {
    t.emu.setFaults({ rate529: 1 });
    const client = t.track(
      clientFor(t.emu, { maxRetries: 6, breaker: { threshold: 10, baseCooldownMs: 60_000 } }),
    );
    const path = join(t.dir, 'f.txt');
    await writeFile(path, 'x');
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => client.upload(path, { filename: `f${i}.txt` })),
    );
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    const breakerErrors = results.filter(
      (r) => r.status === 'rejected' && r.reason instanceof BreakerOpenError,
    ).length;
    expect(breakerErrors).toBeGreaterThan(30);
    // All 50 first attempts were admitted before any answer came back; after the 10th failure no
    // retry is sent (without the breaker: 50 x 7 attempts).
    expect(t.emu.stats().requests).toBeLessThanOrEqual(50 + 10);
    expect(client.health.snapshot().cause?.message).toBe('API failing (529 overloaded_error)');
  });

  it('a refused key opens it; a probe after the key works again closes it', async () => {
    t.emu.setFaults({ refuseKey: true });
    const client = t.track(clientFor(t.emu, { breaker: { baseCooldownMs: 50 } }));
    await expect(client.list()).rejects.toThrow(/401/);
    await expect(client.list()).rejects.toBeInstanceOf(BreakerOpenError);
    t.emu.setFaults({});
    await new Promise((r) => setTimeout(r, 60));
    await expect(client.list()).resolves.toMatchObject({ data: [] });
    expect(client.health.degraded).toBe(false);
  });
});
