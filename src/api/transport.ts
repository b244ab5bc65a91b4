/** HTTP over undici: headers, timeouts, abort, JSON bodies and typed errors for every call. */
import { Readable } from 'node:stream';
import { request, FormData, type Dispatcher } from 'undici';
import { scrub } from '../log.js';
import { ApiError, ConnectionError, RequestTimeoutError, apiErrorFor, type RetryHeaders } from './errors.js';
import type { ApiHealth } from './breaker.js';
import { childAbort } from '../util/child-abort.js';

/** Where and how to reach the Files API; the key lives here and nowhere else. */
export interface TransportConfig {
  baseUrl: string;
  apiKey: string;
  /** Sent as `anthropic-beta` when non-empty (the beta contract); GA sends none. */
  betas: readonly string[];
  /** Sent as `anthropic-workspace-id` on every request when set. */
  workspaceId?: string | undefined;
  dispatcher: Dispatcher;
  /** The client-wide breaker and quota pause every request passes through (none: always sent). */
  health?: ApiHealth | undefined;
}

/**
 * One HTTP call. `path` starts with /v1; `query` values left undefined are omitted; arrays are
 * sent the way the official SDK encodes them (`ids[]=a&ids[]=b`).
 */
export interface CallSpec {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  query?: Record<string, string | number | readonly string[] | undefined>;
  /** A buffer is sent as it is (a whole small body); an iterable is streamed. */
  body?: FormData | Uint8Array | AsyncIterable<Uint8Array>;
  headers?: Record<string, string>;
  /** Limit for the whole call (headers + body for JSON, headers only for streams). */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

export const ANTHROPIC_VERSION = '2023-06-01';
const MAX_ERROR_BODY_BYTES = 64 * 1024;
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

class TimeLimitReached extends Error {}

/** A successful response whose body the caller now owns. */
export interface OpenResponse {
  statusCode: number;
  body: Dispatcher.ResponseData['body'];
  /** Stops the whole-call timer (when the caller takes over the body's lifetime). */
  release(): void;
}

/**
 * Sends one request and turns every failure into a typed error: non-2xx answers become ApiError
 * (body read, never left hanging), network failures ConnectionError, time limits
 * RequestTimeoutError; an abort by the caller's signal passes its reason through untouched.
 */
export class Transport {
  constructor(private readonly config: TransportConfig) {}

  /** Sends and returns the open 2xx response; the caller must consume or dump its body. */
  async open(spec: CallSpec): Promise<OpenResponse> {
    // Refused here (BreakerOpenError, paused upload) means nothing was sent.
    const settle = this.config.health?.admit(spec.method === 'POST' && spec.path === '/v1/files');
    try {
      const res = await this.send(spec);
      settle?.();
      return res;
    } catch (err) {
      settle?.(err);
      throw err;
    }
  }

  private async send(spec: CallSpec): Promise<OpenResponse> {
    // One controller per call, fed by the caller's signal until `unlink` (see childAbort).
    const { controller: timeout, release: unlink } = childAbort(spec.signal);
    const timer = setTimeout(() => timeout.abort(new TimeLimitReached()), spec.timeoutMs);
    const signal = timeout.signal;
    const release = (): void => clearTimeout(timer);
    try {
      const res = await request(this.url(spec), {
        method: spec.method,
        headers: { ...this.headers(), ...spec.headers },
        body: toRequestBody(spec.body),
        signal,
        dispatcher: this.config.dispatcher,
        headersTimeout: spec.timeoutMs,
        bodyTimeout: spec.timeoutMs,
      });
      if (res.statusCode < 200 || res.statusCode >= 300) {
        throw await this.errorFrom(spec, res);
      }
      // The caller's signal keeps aborting the body (a download outlives release()) until it closes.
      res.body.once('close', unlink);
      return { statusCode: res.statusCode, body: res.body, release };
    } catch (err) {
      release();
      unlink();
      throw this.translate(err, spec, timeout.signal);
    }
  }

  /** Sends and parses a JSON answer within the call's time limit. */
  async json(spec: CallSpec): Promise<unknown> {
    const res = await this.open(spec);
    try {
      return await res.body.json();
    } catch (err) {
      throw this.translate(err, spec, undefined);
    } finally {
      res.release();
    }
  }

  private translate(err: unknown, spec: CallSpec, timeoutSignal: AbortSignal | undefined): unknown {
    if (err instanceof ConnectionError || err instanceof ApiError) return err;
    if (spec.signal?.aborted) return spec.signal.reason;
    const route = spec.path;
    if (err instanceof TimeLimitReached || (timeoutSignal?.aborted && timeoutSignal.reason === err)) {
      return new RequestTimeoutError(
        `${spec.method} ${route}: no complete answer within ${spec.timeoutMs} ms`,
        {
          method: spec.method,
          route,
          code: 'TIMEOUT',
        },
      );
    }
    const code = errorCode(err);
    if (code === undefined) return err;
    const detail = err instanceof Error ? `: ${scrub(err.message, [this.config.apiKey])}` : '';
    const details = { method: spec.method, route, code };
    if (TIMEOUT_CODES.has(code)) {
      return new RequestTimeoutError(`${spec.method} ${route}: timed out (${code})${detail}`, details, {
        cause: err,
      });
    }
    return new ConnectionError(`${spec.method} ${route}: connection failed (${code})${detail}`, details, {
      cause: err,
    });
  }

  private async errorFrom(spec: CallSpec, res: Dispatcher.ResponseData): Promise<ApiError> {
    const text = await readCapped(res.body, MAX_ERROR_BODY_BYTES);
    let errorType: string | undefined;
    let errorCode: string | undefined;
    let message: string | undefined;
    let bodyRequestId: string | undefined;
    try {
      const parsed = JSON.parse(text) as {
        error?: { type?: unknown; message?: unknown; details?: { error_code?: unknown } | null };
        request_id?: unknown;
      };
      if (typeof parsed.error?.type === 'string') errorType = parsed.error.type;
      const code = parsed.error?.details?.error_code;
      if (typeof code === 'string') errorCode = code;
      if (typeof parsed.error?.message === 'string') message = parsed.error.message;
      if (typeof parsed.request_id === 'string') bodyRequestId = parsed.request_id;
    } catch {
      // Some answers (a proxy's 413, a 502 page) are not JSON: the status says enough.
    }
    const requestId = header(res.headers, 'request-id') ?? bodyRequestId;
    const retryHeaders: RetryHeaders = {};
    for (const name of ['retry-after', 'retry-after-ms', 'x-should-retry'] as const) {
      const v = header(res.headers, name);
      if (v !== undefined) retryHeaders[name] = v;
    }
    const said = scrub(message ?? `HTTP ${res.statusCode}`, [this.config.apiKey]);
    const typeLabel = (errorType ? ` ${errorType}` : '') + (errorCode ? ` (${errorCode})` : '');
    return apiErrorFor(`${spec.method} ${spec.path}: ${res.statusCode}${typeLabel}: ${said}`, {
      status: res.statusCode,
      method: spec.method,
      route: spec.path,
      errorType,
      errorCode,
      requestId,
      retryHeaders,
    });
  }

  private url(spec: CallSpec): string {
    const base = this.config.baseUrl.replace(/\/+$/, '');
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(spec.query ?? {})) {
      if (v === undefined) continue;
      if (typeof v === 'object') for (const item of v) params.append(`${k}[]`, item);
      else params.set(k, String(v));
    }
    const qs = params.toString();
    return `${base}${spec.path}${qs ? `?${qs}` : ''}`;
  }

  private headers(): Record<string, string> {
    const headers: Record<string, string> = {
      'x-api-key': this.config.apiKey,
      'anthropic-version': ANTHROPIC_VERSION,
      accept: 'application/json',
    };
    if (this.config.betas.length > 0) headers['anthropic-beta'] = this.config.betas.join(',');
    if (this.config.workspaceId !== undefined) headers['anthropic-workspace-id'] = this.config.workspaceId;
    return headers;
  }
}

function errorCode(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let depth = 0; depth < 4 && cur instanceof Error; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = cur.cause;
  }
  return undefined;
}

function header(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const v = headers[name];
  if (Array.isArray(v)) return v[0];
  return v;
}

/** Reads at most `cap` bytes of a body as UTF-8, then drops the rest so the socket is freed. */
async function readCapped(body: Dispatcher.ResponseData['body'], cap: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      chunks.push(buf);
      total += buf.byteLength;
      if (total >= cap) {
        body.destroy();
        break;
      }
    }
  } catch {
    // A body cut short still leaves us the status; the error we raise is about that.
  }
  return Buffer.concat(chunks).subarray(0, cap).toString('utf8');
}

function toRequestBody(body: CallSpec['body']): FormData | Uint8Array | Readable | null {
  if (body === undefined) return null;
  if (body instanceof FormData || body instanceof Uint8Array) return body;
  // undici takes any async iterable at run time; a Readable satisfies its declared types too.
  return Readable.from(body, { objectMode: false });
}
