/** Retry policy: what is retried, retry-after headers, backoff with jitter, bounded by p-retry. */
import pRetry from 'p-retry';
import {
  ApiError,
  ConnectionError,
  StorageQuotaError,
  isAbortError,
  summarizeError,
  type RetryHeaders,
} from './errors.js';

/** Backoff shape; defaults are the official SDKs' `min(0.5 * 2^n, 8)` seconds. */
export interface BackoffOptions {
  /** First backoff step in ms (default 500). */
  backoffBaseMs?: number;
  /** Largest backoff step in ms (default 8000). */
  maxBackoffMs?: number;
  /** Largest server-requested wait honoured (retry-after / retry-after-ms), default 60 s. */
  maxRetryAfterMs?: number;
  /** Injected for tests; returns [0, 1). */
  random?: () => number;
  /** Injected for tests; epoch ms used to resolve an HTTP-date retry-after. */
  now?: () => number;
}

export const DEFAULT_BACKOFF_BASE_MS = 500;
export const DEFAULT_MAX_BACKOFF_MS = 8_000;
export const DEFAULT_MAX_RETRY_AFTER_MS = 60_000;

/** Whether a status is worth retrying when the server did not say otherwise. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** Reads `x-should-retry`: true/false when the server expressed an opinion, else undefined. */
export function serverRetryOpinion(headers: RetryHeaders): boolean | undefined {
  const v = headers['x-should-retry']?.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  return undefined;
}

/**
 * Whether `error` deserves another attempt; `attempt` is the number of attempts already made and
 * `maxRetries` the number of retries allowed after the first attempt.
 */
export function shouldRetry(error: unknown, attempt: number, maxRetries = Number.POSITIVE_INFINITY): boolean {
  if (attempt > maxRetries) return false;
  if (isAbortError(error)) return false;
  // A full storage stays full until files are deleted: never retried, whatever the headers say.
  if (error instanceof StorageQuotaError) return false;
  if (error instanceof ApiError) {
    return serverRetryOpinion(error.retryHeaders) ?? isRetryableStatus(error.status);
  }
  return error instanceof ConnectionError;
}

/**
 * The wait the server asked for, in ms: `retry-after-ms` first, then `retry-after` as seconds or
 * an HTTP date. Undefined when absent or unparsable; negative values count as 0.
 */
export function parseRetryAfterMs(headers: RetryHeaders, now: number = Date.now()): number | undefined {
  const ms = headers['retry-after-ms'];
  if (ms !== undefined && ms.trim() !== '') {
    const n = Number(ms);
    if (Number.isFinite(n)) return Math.max(0, n);
  }
  const ra = headers['retry-after'];
  if (ra !== undefined && ra.trim() !== '') {
    const seconds = Number(ra);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const date = Date.parse(ra);
    if (Number.isFinite(date)) return Math.max(0, date - now);
  }
  return undefined;
}

/** Exponential backoff with the SDKs' jitter (up to 25 % shorter); `retryIndex` starts at 0. */
export function backoffMs(retryIndex: number, opts: BackoffOptions = {}): number {
  const base = opts.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS;
  const max = opts.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
  const random = opts.random ?? Math.random;
  const step = Math.min(base * 2 ** Math.max(0, retryIndex), max);
  return Math.round(step * (1 - random() * 0.25));
}

/**
 * How long to wait before the next attempt: the server's retry-after (capped) when given, otherwise
 * exponential backoff. `source` is the failed attempt's error or the response headers.
 */
export function retryDelayMs(source: unknown, retryIndex: number, opts: BackoffOptions = {}): number {
  const headers: RetryHeaders | undefined =
    source instanceof ApiError ? source.retryHeaders : isRetryHeaders(source) ? source : undefined;
  if (headers) {
    const asked = parseRetryAfterMs(headers, (opts.now ?? Date.now)());
    if (asked !== undefined) return Math.min(asked, opts.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS);
  }
  return backoffMs(retryIndex, opts);
}

function isRetryHeaders(v: unknown): v is RetryHeaders {
  return typeof v === 'object' && v !== null && !(v instanceof Error);
}

export interface RetryInfo {
  /** The attempt that failed (1 = first). */
  attempt: number;
  delayMs: number;
  /** Key-free summary, e.g. "429 rate_limit_error" or "ECONNRESET". */
  reason: string;
  error: unknown;
}

export interface WithRetryOptions extends BackoffOptions {
  /** Retries after the first attempt (default 6). */
  maxRetries?: number;
  /** Bound on the whole call including waits (default 5 min). */
  maxRetryTimeMs?: number;
  signal?: AbortSignal | undefined;
  /** Called before each wait, for metrics and logs. */
  onRetry?: (info: RetryInfo) => void;
  /** Replaces the default `shouldRetry` policy (e.g. for uploads with a consumed stream). */
  isRetryable?: (error: unknown, attempt: number) => boolean;
}

/**
 * Runs `fn` with the retry policy above via p-retry. p-retry 7 has no hook for a server-chosen
 * delay, so we wait inside `onFailedAttempt` and tell p-retry not to consume a retry (it then adds
 * no delay of its own); the retry budget is counted here and the total time bounded by both.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  opts: WithRetryOptions = {},
): Promise<T> {
  const maxRetries = opts.maxRetries ?? 6;
  const maxRetryTimeMs = opts.maxRetryTimeMs ?? 5 * 60_000;
  const started = performance.now();
  const retryable = opts.isRetryable ?? ((e: unknown, a: number) => shouldRetry(e, a, maxRetries));
  return pRetry(fn, {
    retries: Number.POSITIVE_INFINITY,
    maxRetryTime: maxRetryTimeMs,
    signal: opts.signal,
    onFailedAttempt: async ({ error, attemptNumber }) => {
      opts.signal?.throwIfAborted();
      // p-retry wraps non-Error throws; ours are always Errors, so `error` is the original.
      if (attemptNumber > maxRetries || !retryable(error, attemptNumber)) throw error;
      const delayMs = retryDelayMs(error, attemptNumber - 1, opts);
      const remaining = maxRetryTimeMs - (performance.now() - started);
      if (delayMs >= remaining) throw error;
      opts.onRetry?.({ attempt: attemptNumber, delayMs, reason: summarizeError(error), error });
      await sleep(delayMs, opts.signal);
    },
    shouldConsumeRetry: () => false,
    shouldRetry: () => true,
  });
}

/** Waits `ms`, rejecting with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as unknown);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as unknown);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
