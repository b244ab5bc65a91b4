import { openAsBlob } from 'node:fs';
import type { Readable } from 'node:stream';
import { Agent, FormData } from 'undici';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { RemoteFile } from '../types.js';
import {
  ApiError,
  ConnectionError,
  MissingApiKeyError,
  NotFoundError,
  PaginationLoopError,
  SourceChangedError,
  SourceNotRetryableError,
  UnexpectedResponseError,
  UploadOutcomeUnknownError,
  certainlyNotSent,
  isAbortError,
} from './errors.js';
import { mimeTypeFor } from './mime.js';
import { streamedMultipart } from './multipart.js';
import { shouldRetry, withRetry, type RetryInfo } from './retry.js';
import { Transport, type CallSpec } from './transport.js';
import { UploadTracker } from './upload-tracker.js';
import { WireDeletedSchema, WireFilePageSchema, WireFileSchema, toRemoteFile } from './wire.js';

export interface FilesClientOptions {
  apiKey: string;
  /** Default: ANTHROPIC_BASE_URL, else https://api.anthropic.com. */
  baseUrl?: string;
  /** Keep-alive connection cap (default 8). */
  maxConnections?: number;
  /** Whole-call limit for non-upload requests (default 60 s). */
  timeoutMs?: number;
  /** Whole-call limit for one upload attempt (default 10 min). */
  uploadTimeoutMs?: number;
  /** TCP connect limit (default 10 s). */
  connectTimeoutMs?: number;
  /** Retries after the first attempt (default 6). */
  maxRetries?: number;
  /** Bound on one call including every retry and wait (default 5 min). */
  maxRetryTimeMs?: number;
  /** First backoff step (default 500 ms); tests make it small. */
  backoffBaseMs?: number;
  /** Largest backoff step (default 8 s). */
  maxBackoffMs?: number;
  /** Largest server-requested wait honoured (default 60 s). */
  maxRetryAfterMs?: number;
  /** Default ['files-api-2025-04-14']. */
  betas?: string[];
  onRetry?: (info: {
    method: string;
    route: string;
    attempt: number;
    delayMs: number;
    reason: string;
  }) => void;
  logger?: Logger;
}

/** One page of the listing, newest first. */
export interface FilePage {
  data: RemoteFile[];
  firstId: string | null;
  lastId: string | null;
  hasMore: boolean;
}

/** What to upload: an absolute path (re-opened per attempt) or a one-shot stream. */
export type UploadSource =
  string | { stream: NodeJS.ReadableStream | AsyncIterable<Uint8Array>; size?: number };

export interface UploadOptions {
  filename: string;
  mimeType?: string;
  signal?: AbortSignal;
  /**
   * File IDs the caller already owns (e.g. recorded by an earlier process); never adopted after an
   * unanswered attempt, since this client's own memory only covers IDs it handed out itself.
   */
  isOwned?: (id: string) => boolean;
}

export interface FindRecentUploadOptions {
  signal?: AbortSignal;
  /** IDs never to return (default: the IDs this client already handed out). */
  exclude?: { has(id: string): boolean };
  /** Clock slack between us and the server (default 60 s). */
  slackMs?: number;
}

export const DEFAULT_BETAS: readonly string[] = ['files-api-2025-04-14'];
const FILES_PATH = '/v1/files';
const FIND_PAGE_SIZE = 100;

/**
 * Client of the Files API (beta contract) over undici `request`: streamed uploads, paged listing,
 * retrieve, delete, download; typed errors, retries with the API's retry rules, and recovery from
 * uploads whose outcome is unknown.
 */
export class FilesClient {
  private readonly transport: Transport;
  private readonly agent: Agent;
  private readonly tracker = new UploadTracker();
  private readonly opts: Required<
    Pick<FilesClientOptions, 'timeoutMs' | 'uploadTimeoutMs' | 'maxRetries' | 'maxRetryTimeMs'>
  > &
    FilesClientOptions;

  constructor(options: FilesClientOptions) {
    if (!options.apiKey) {
      throw new MissingApiKeyError('No API key given (set ANTHROPIC_API_KEY)', {
        variable: 'ANTHROPIC_API_KEY',
      });
    }
    this.opts = {
      ...options,
      timeoutMs: options.timeoutMs ?? 60_000,
      uploadTimeoutMs: options.uploadTimeoutMs ?? 10 * 60_000,
      maxRetries: options.maxRetries ?? 6,
      maxRetryTimeMs: options.maxRetryTimeMs ?? 5 * 60_000,
    };
    this.agent = new Agent({
      connections: options.maxConnections ?? 8,
      connect: { timeout: options.connectTimeoutMs ?? 10_000 },
    });
    this.transport = new Transport({
      baseUrl: options.baseUrl ?? process.env.ANTHROPIC_BASE_URL ?? 'https://api.anthropic.com',
      apiKey: options.apiKey,
      betas: options.betas ?? DEFAULT_BETAS,
      dispatcher: this.agent,
    });
  }

  /** Builds a client from ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL; a missing key is a typed error. */
  static fromEnv(overrides: Partial<FilesClientOptions> = {}): FilesClient {
    const apiKey = overrides.apiKey ?? process.env.ANTHROPIC_API_KEY;
    if (!apiKey) {
      throw new MissingApiKeyError('ANTHROPIC_API_KEY is not set', { variable: 'ANTHROPIC_API_KEY' });
    }
    const baseUrl = overrides.baseUrl ?? process.env.ANTHROPIC_BASE_URL;
    return new FilesClient({ ...overrides, apiKey, ...(baseUrl ? { baseUrl } : {}) });
  }

  /**
   * Uploads one file. Retried only where the server certainly created nothing; after an ambiguous
   * failure it first looks for the file the attempt may have created and adopts it.
   */
  async upload(source: UploadSource, opts: UploadOptions): Promise<RemoteFile> {
    const { filename, signal } = opts;
    const mimeType = opts.mimeType ?? mimeTypeFor(filename);
    const route = FILES_PATH;
    const isPath = typeof source === 'string';
    let streamTouched = false;
    let streamBytes = 0;

    const attemptOnce = async (): Promise<RemoteFile> => {
      if (!isPath && streamTouched) {
        throw new SourceNotRetryableError(`Upload of ${filename}: the stream was already consumed`, {
          filename,
          route,
        });
      }
      const startedAt = new Date();
      let body: CallSpec['body'];
      let headers: Record<string, string> | undefined;
      let sizeBytes: number | undefined;
      if (isPath) {
        const blob = await openPathBlob(source, mimeType, filename);
        sizeBytes = blob.size;
        const form = new FormData();
        form.append('file', blob, filename);
        body = form;
      } else {
        const multipart = streamedMultipart(
          toAsyncIterable(source.stream),
          filename,
          mimeType,
          source.size,
          () => (streamTouched = true),
          (n) => (streamBytes += n),
        );
        body = multipart.body;
        headers = { 'content-type': multipart.contentType };
        if (multipart.contentLength !== undefined)
          headers['content-length'] = String(multipart.contentLength);
        sizeBytes = source.size;
      }
      const key = sizeBytes === undefined ? undefined : UploadTracker.keyOf(filename, sizeBytes);
      const post = this.transport
        .json({
          method: 'POST',
          path: route,
          body,
          ...(headers ? { headers } : {}),
          timeoutMs: this.opts.uploadTimeoutMs,
          signal,
        })
        .then((json) => {
          const file = parseWith(WireFileSchema, json, 'POST', route, toRemoteFile);
          this.tracker.claim(file.id);
          return file;
        });
      try {
        return await (key ? this.tracker.track(key, post) : post);
      } catch (err) {
        if (isAbortError(err) || signal?.aborted) throw err;
        if (isNotReadable(err)) {
          throw new SourceChangedError(
            `Upload of ${filename}: the file changed while it was being sent`,
            {
              path: source,
              filename,
            },
            { cause: err },
          );
        }
        // A 5xx other than 529 (overloaded: refused at the door) may come after the file was
        // created; look for it before the retry re-POSTs, as for a lost connection.
        const serverFailed = err instanceof ApiError && err.status >= 500 && err.status !== 529;
        if ((err instanceof ConnectionError && !certainlyNotSent(err)) || serverFailed) {
          const size = sizeBytes ?? streamBytes;
          const adopted = await this.resolveAmbiguousUpload(
            filename,
            size,
            startedAt,
            err,
            signal,
            opts.isOwned,
          );
          if (adopted) return adopted;
        }
        if (!isPath && streamTouched && shouldRetry(err, 1)) {
          throw new SourceNotRetryableError(
            `Upload of ${filename} failed (${err instanceof Error ? err.name : 'error'}) after its stream was consumed`,
            { filename, route },
            { cause: err },
          );
        }
        throw err;
      }
    };

    return withRetry(attemptOnce, this.retryOptions('POST', route, signal));
  }

  /** One page of the listing (newest first). */
  async list(
    opts: { limit?: number; afterId?: string; beforeId?: string; signal?: AbortSignal } = {},
  ): Promise<FilePage> {
    const route = FILES_PATH;
    const json = await withRetry(
      () =>
        this.transport.json({
          method: 'GET',
          path: route,
          query: { limit: opts.limit, after_id: opts.afterId, before_id: opts.beforeId },
          timeoutMs: this.opts.timeoutMs,
          signal: opts.signal,
        }),
      this.retryOptions('GET', route, opts.signal),
    );
    return parseWith(WireFilePageSchema, json, 'GET', route, (page) => ({
      data: page.data.map(toRemoteFile),
      firstId: page.first_id ?? null,
      lastId: page.last_id ?? null,
      hasMore: page.has_more,
    }));
  }

  /** Every file, newest first, page by page; stops with PaginationLoopError if a cursor repeats. */
  async *listAll(opts: { pageSize?: number; signal?: AbortSignal } = {}): AsyncGenerator<RemoteFile> {
    const limit = opts.pageSize ?? 1000;
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (;;) {
      const page = await this.list({
        limit,
        ...(cursor ? { afterId: cursor } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      yield* page.data;
      if (!page.hasMore) return;
      if (page.lastId === null || page.lastId === cursor || seen.has(page.lastId)) {
        throw new PaginationLoopError('The file listing repeated a cursor; stopping instead of looping', {
          route: FILES_PATH,
          cursor,
          lastId: page.lastId,
        });
      }
      seen.add(page.lastId);
      cursor = page.lastId;
    }
  }

  /** Metadata of one file. */
  async retrieve(id: string, opts: { signal?: AbortSignal } = {}): Promise<RemoteFile> {
    const route = filePath(id);
    const json = await withRetry(
      () =>
        this.transport.json({
          method: 'GET',
          path: route,
          timeoutMs: this.opts.timeoutMs,
          signal: opts.signal,
        }),
      this.retryOptions('GET', route, opts.signal),
    );
    return parseWith(WireFileSchema, json, 'GET', route, toRemoteFile);
  }

  /** Deletes a file; a 404 counts as done (`alreadyGone: true`). */
  async delete(
    id: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ id: string; alreadyGone: boolean }> {
    const route = filePath(id);
    try {
      const json = await withRetry(
        () =>
          this.transport.json({
            method: 'DELETE',
            path: route,
            timeoutMs: this.opts.timeoutMs,
            signal: opts.signal,
          }),
        this.retryOptions('DELETE', route, opts.signal),
      );
      const deleted = parseWith(WireDeletedSchema, json, 'DELETE', route, (d) => d);
      return { id: deleted.id, alreadyGone: false };
    } catch (err) {
      if (err instanceof NotFoundError) return { id, alreadyGone: true };
      throw err;
    }
  }

  /** Streams a downloadable file's content (uploaded files give a 400 BadRequestError). */
  async download(id: string, opts: { signal?: AbortSignal } = {}): Promise<Readable> {
    const route = `${filePath(id)}/content`;
    const res = await withRetry(
      () =>
        this.transport.open({
          method: 'GET',
          path: route,
          timeoutMs: this.opts.timeoutMs,
          signal: opts.signal,
        }),
      this.retryOptions('GET', route, opts.signal),
    );
    // From here the body's life is the caller's; undici's bodyTimeout still guards a stalled stream.
    res.release();
    return res.body;
  }

  /**
   * The newest file named `filename` with `sizeBytes` bytes created at or after `since` (minus
   * clock slack) that is not excluded; pages newest first and stops once files are older.
   */
  async findRecentUpload(
    filename: string,
    sizeBytes: number,
    since: Date,
    opts: FindRecentUploadOptions = {},
  ): Promise<RemoteFile | null> {
    const cutoff = since.getTime() - (opts.slackMs ?? 60_000);
    const exclude = opts.exclude ?? this.tracker.claimed;
    let cursor: string | undefined;
    const seen = new Set<string>();
    for (;;) {
      const page = await this.list({
        limit: FIND_PAGE_SIZE,
        ...(cursor ? { afterId: cursor } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      for (const file of page.data) {
        const created = Date.parse(file.createdAt);
        if (Number.isFinite(created) && created < cutoff) return null;
        if (file.filename === filename && file.sizeBytes === sizeBytes && !exclude.has(file.id)) return file;
      }
      if (!page.hasMore || page.lastId === null || page.lastId === cursor || seen.has(page.lastId))
        return null;
      seen.add(page.lastId);
      cursor = page.lastId;
    }
  }

  /** Closes the keep-alive connections. */
  async close(): Promise<void> {
    await this.agent.close();
  }

  private async resolveAmbiguousUpload(
    filename: string,
    sizeBytes: number,
    startedAt: Date,
    original: ConnectionError | ApiError,
    signal: AbortSignal | undefined,
    isOwned: ((id: string) => boolean) | undefined,
  ): Promise<RemoteFile | null> {
    const key = UploadTracker.keyOf(filename, sizeBytes);
    const code = original instanceof ConnectionError ? original.code : `HTTP ${original.status}`;
    const claimed = this.tracker.claimed;
    const exclude = isOwned ? { has: (id: string) => claimed.has(id) || isOwned(id) } : claimed;
    return this.tracker.resolveExclusively(key, async () => {
      let found: RemoteFile | null;
      try {
        found = await this.findRecentUpload(filename, sizeBytes, startedAt, {
          exclude,
          ...(signal ? { signal } : {}),
        });
      } catch (lookupError) {
        if (isAbortError(lookupError) || signal?.aborted) throw lookupError;
        throw new UploadOutcomeUnknownError(
          `Upload of ${filename} got no answer (${code}) and the follow-up lookup failed: the file may exist`,
          { filename, sizeBytes, startedAt: startedAt.toISOString(), route: FILES_PATH, code },
          { cause: lookupError },
        );
      }
      if (found) {
        this.tracker.claim(found.id);
        this.opts.logger?.info(
          { fileId: found.id, filename, code },
          'adopted the file an unanswered upload created',
        );
      }
      return found;
    });
  }

  private retryOptions(method: string, route: string, signal: AbortSignal | undefined) {
    const o = this.opts;
    return {
      maxRetries: o.maxRetries,
      maxRetryTimeMs: o.maxRetryTimeMs,
      signal,
      ...(o.backoffBaseMs !== undefined ? { backoffBaseMs: o.backoffBaseMs } : {}),
      ...(o.maxBackoffMs !== undefined ? { maxBackoffMs: o.maxBackoffMs } : {}),
      ...(o.maxRetryAfterMs !== undefined ? { maxRetryAfterMs: o.maxRetryAfterMs } : {}),
      onRetry: (info: RetryInfo) => {
        const event = { method, route, attempt: info.attempt, delayMs: info.delayMs, reason: info.reason };
        o.logger?.warn(event, 'retrying Files API call');
        o.onRetry?.(event);
      },
    };
  }
}

function filePath(id: string): string {
  return `${FILES_PATH}/${encodeURIComponent(id)}`;
}

async function openPathBlob(path: string, mimeType: string, filename: string): Promise<Blob> {
  try {
    return await openAsBlob(path, { type: mimeType });
  } catch (err) {
    // A vanished or unreadable file is the caller's business (re-scan), not a retry.
    throw new SourceChangedError(
      `Upload of ${filename}: cannot open ${path}`,
      { path, filename },
      { cause: err },
    );
  }
}

function parseWith<D, R>(
  schema: z.ZodType<D>,
  json: unknown,
  method: string,
  route: string,
  map: (d: D) => R,
): R {
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new UnexpectedResponseError(`${method} ${route}: the answer does not look like the Files API's`, {
      method,
      route,
    });
  }
  return map(parsed.data);
}

function isNotReadable(err: unknown): boolean {
  let cur: unknown = err;
  for (let depth = 0; depth < 5 && cur instanceof Error; depth++) {
    if (cur.name === 'NotReadableError') return true;
    cur = cur.cause;
  }
  return false;
}

function toAsyncIterable(
  stream: NodeJS.ReadableStream | AsyncIterable<Uint8Array>,
): AsyncIterable<Uint8Array> {
  return stream as AsyncIterable<Uint8Array>;
}
