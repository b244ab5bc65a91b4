import { describe, expect, it } from 'vitest';
import {
  ConnectionError,
  RequestTimeoutError,
  SourceChangedError,
  UploadOutcomeUnknownError,
  apiErrorFor,
  type RetryHeaders,
} from '../../src/api/errors.js';
import {
  backoffMs,
  parseRetryAfterMs,
  retryDelayMs,
  shouldRetry,
  withRetry,
  type RetryInfo,
} from '../../src/api/retry.js';

const apiError = (status: number, retryHeaders: RetryHeaders = {}) =>
  apiErrorFor(`GET /v1/files: ${status}`, { status, method: 'GET', route: '/v1/files', retryHeaders });
const connError = (code: string) =>
  new ConnectionError(`GET /v1/files: ${code}`, { method: 'GET', route: '/v1/files', code });
const abortError = () => new DOMException('This operation was aborted', 'AbortError');

describe('shouldRetry', () => {
  it.each([
    [400, false],
    [401, false],
    [402, false],
    [403, false],
    [404, false],
    [408, true],
    [409, true],
    [413, false],
    [422, false],
    [429, true],
    [500, true],
    [502, true],
    [503, true],
    [504, true],
    [529, true],
  ])('status %i -> %s', (status, expected) => {
    expect(shouldRetry(apiError(status), 1)).toBe(expected);
  });

  it.each([
    [400, 'true', true],
    [500, 'false', false],
    [429, 'FALSE', false],
    [404, ' True ', true],
    [503, 'maybe', true],
  ])('x-should-retry overrides: status %i with %j -> %s', (status, header, expected) => {
    expect(shouldRetry(apiError(status, { 'x-should-retry': header }), 1)).toBe(expected);
  });

  it.each(['ECONNRESET', 'UND_ERR_SOCKET', 'ECONNREFUSED', 'EPIPE'])(
    'retries connection error %s',
    (code) => {
      expect(shouldRetry(connError(code), 1)).toBe(true);
    },
  );

  it('retries timeouts', () => {
    expect(
      shouldRetry(new RequestTimeoutError('t', { method: 'GET', route: '/v1/files', code: 'TIMEOUT' }), 2),
    ).toBe(true);
  });

  it.each([
    ['abort', abortError()],
    ['outcome unknown', new UploadOutcomeUnknownError('x')],
    ['source changed', new SourceChangedError('x')],
    ['plain error', new Error('bug')],
    ['type error', new TypeError('bug')],
    ['non-error', 'oops'],
  ])('does not retry %s', (_label, err) => {
    expect(shouldRetry(err, 1)).toBe(false);
  });

  it('stops once the attempts exceed maxRetries', () => {
    expect(shouldRetry(apiError(500), 3, 3)).toBe(true);
    expect(shouldRetry(apiError(500), 4, 3)).toBe(false);
    expect(shouldRetry(apiError(500), 1, 0)).toBe(false);
  });
});

describe('parseRetryAfterMs', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it.each<[RetryHeaders, number | undefined]>([
    [{}, undefined],
    [{ 'retry-after-ms': '250' }, 250],
    [{ 'retry-after-ms': '12.5' }, 12.5],
    [{ 'retry-after-ms': '250', 'retry-after': '9' }, 250],
    [{ 'retry-after-ms': 'soon', 'retry-after': '2' }, 2000],
    [{ 'retry-after': '3' }, 3000],
    [{ 'retry-after': '0' }, 0],
    [{ 'retry-after': '-4' }, 0],
    [{ 'retry-after': '1.5' }, 1500],
    [{ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }, 5000],
    [{ 'retry-after': 'Wed, 31 Dec 2025 23:59:00 GMT' }, 0],
    [{ 'retry-after': 'not a date' }, undefined],
    [{ 'retry-after': '' }, undefined],
  ])('%j -> %s', (headers, expected) => {
    expect(parseRetryAfterMs(headers, now)).toBe(expected);
  });
});

describe('backoffMs', () => {
  it('doubles from 500 ms up to 8 s without jitter', () => {
    const noJitter = { random: () => 0 };
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => backoffMs(n, noJitter))).toEqual([
      500, 1000, 2000, 4000, 8000, 8000, 8000,
    ]);
  });
  it('jitters down by at most a quarter', () => {
    expect(backoffMs(2, { random: () => 0.999999 })).toBe(1500);
    for (let i = 0; i < 50; i++) {
      const d = backoffMs(1, {});
      expect(d).toBeGreaterThanOrEqual(750);
      expect(d).toBeLessThanOrEqual(1000);
    }
  });
  it('honours custom base and cap', () => {
    expect(backoffMs(3, { backoffBaseMs: 5, maxBackoffMs: 20, random: () => 0 })).toBe(20);
    expect(backoffMs(1, { backoffBaseMs: 5, maxBackoffMs: 20, random: () => 0 })).toBe(10);
  });
});

describe('retryDelayMs', () => {
  const fixed = { random: () => 0, now: () => Date.parse('2026-01-01T00:00:00Z') };
  it('uses the server wait from an error', () => {
    expect(retryDelayMs(apiError(429, { 'retry-after-ms': '150', 'retry-after': '1' }), 0, fixed)).toBe(150);
  });
  it('uses the server wait from bare headers', () => {
    expect(retryDelayMs({ 'retry-after': '2' }, 5, fixed)).toBe(2000);
  });
  it('caps the server wait', () => {
    expect(retryDelayMs(apiError(429, { 'retry-after': '3600' }), 0, fixed)).toBe(60_000);
    expect(retryDelayMs(apiError(429, { 'retry-after': '30' }), 0, { ...fixed, maxRetryAfterMs: 1000 })).toBe(
      1000,
    );
  });
  it('falls back to backoff without a server wait', () => {
    expect(retryDelayMs(apiError(500), 2, fixed)).toBe(2000);
    expect(retryDelayMs(connError('ECONNRESET'), 0, fixed)).toBe(500);
  });
});

describe('withRetry', () => {
  const fast = { backoffBaseMs: 1, maxBackoffMs: 2 };

  it('returns the first success and reports each retry', async () => {
    const infos: RetryInfo[] = [];
    let calls = 0;
    const result = await withRetry(
      async (attempt) => {
        calls++;
        if (attempt < 3) throw apiError(503);
        return 'ok';
      },
      { ...fast, onRetry: (i) => infos.push(i) },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(infos.map((i) => [i.attempt, i.reason])).toEqual([
      [1, '503 server'],
      [2, '503 server'],
    ]);
  });

  it('passes the server-requested delay to onRetry', async () => {
    const delays: number[] = [];
    let first = true;
    await withRetry(
      async () => {
        if (first) {
          first = false;
          throw apiError(429, { 'retry-after-ms': '20', 'retry-after': '1' });
        }
        return 1;
      },
      { ...fast, onRetry: (i) => delays.push(i.delayMs) },
    );
    expect(delays).toEqual([20]);
  });

  it('gives up after maxRetries with the last error', async () => {
    let calls = 0;
    const err = apiError(500);
    await expect(
      withRetry(
        async () => {
          calls++;
          throw err;
        },
        { ...fast, maxRetries: 2 },
      ),
    ).rejects.toBe(err);
    expect(calls).toBe(3);
  });

  it('does not retry a non-retryable error', async () => {
    let calls = 0;
    const err = apiError(404);
    await expect(
      withRetry(async () => {
        calls++;
        throw err;
      }, fast),
    ).rejects.toBe(err);
    expect(calls).toBe(1);
  });

  it('stops when the next wait would pass the total time bound', async () => {
    let calls = 0;
    const err = apiError(429, { 'retry-after': '30' });
    await expect(
      withRetry(
        async () => {
          calls++;
          throw err;
        },
        { ...fast, maxRetryTimeMs: 5_000 },
      ),
    ).rejects.toBe(err);
    expect(calls).toBe(1);
  });

  it('rejects with the abort reason while waiting', async () => {
    const ctl = new AbortController();
    const reason = abortError();
    const p = withRetry(
      async () => {
        throw apiError(429, { 'retry-after': '50' });
      },
      { signal: ctl.signal, onRetry: () => queueMicrotask(() => ctl.abort(reason)) },
    );
    await expect(p).rejects.toBe(reason);
  });

  it('honours a custom isRetryable', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw connError('ECONNRESET');
        },
        { ...fast, isRetryable: () => false },
      ),
    ).rejects.toBeInstanceOf(ConnectionError);
    expect(calls).toBe(1);
  });
});
