/** FilesClient: upload, list, retrieve, delete and ambiguity handling over the Files API (GA by default). */
import { openAsBlob } from 'node:fs';
import type { Readable } from 'node:stream';
import { Agent, FormData } from 'undici';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { RemoteFile } from '../types.js';
import {
  ApiError,
  ConnectionError,
  ContractMismatchError,
  InvalidRequestOptionError,
  MissingApiKeyError,
  NotFoundError,
  PaginationLoopError,
  SourceChangedError,
  SourceNotRetryableError,
  UploadOutcomeUnknownError,
  certainlyNotSent,
  isAbortError,
} from './errors.js';
import { mimeTypeFor } from './mime.js';
import { multipartFrame, streamedMultipart, type MultipartFrame } from './multipart.js';
import { shouldRetry, withRetry, type RetryInfo } from './retry.js';
import { Transport, type CallSpec } from './transport.js';
import { ApiHealth, type BreakerOptions } from './breaker.js';
import { UploadTracker } from './upload-tracker.js';
import { clockObservingDispatcher, ServerClock, type ClockOffset } from './server-clock.js';
import {
  WireDeletedSchema,
  WireFilePageSchema,
  WireFileSchema,
  WireGaFilePageSchema,
  readGaFilePage,
  toRemoteFile,
} from './wire.js';
import { FileChangedError, type FileVersion } from '../local/hash.js';
import { OpenVersion } from '../local/read-version.js';

/**
 * Which Files API contract to speak. `ga` (the default): no beta header, `page`/`next_page`
 * cursors, the `ids` filter. `beta`: the legacy `anthropic-beta: files-api-2025-04-14` shapes
 * (`after_id`/`has_more`), kept for servers that still need them.
 */
export type ApiContract = 'ga' | 'beta';

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
  /** Default 'ga'. */
  contract?: ApiContract | undefined;
  /** Sent as `anthropic-workspace-id` on every request (keys that can act on several workspaces). */
  workspaceId?: string | undefined;
  /** Default `expires_in_seconds` of every upload (3600..7776000); none when undefined. */
  expiresInSeconds?: number | undefined;
  /** Beta contract only: the `anthropic-beta` values (default ['files-api-2025-04-14']). */
  betas?: string[];
  onRetry?: (info: {
    method: string;
    route: string;
    attempt: number;
    delayMs: number;
    reason: string;
  }) => void;
  logger?: Logger;
  /** Circuit breaker and storage-quota pause settings (one breaker per client and its views). */
  breaker?: BreakerOptions | undefined;
}

/** One page of the listing; `nextPage` is the cursor of the next one, null on the last page. */
export interface FilePage {
  data: RemoteFile[];
  nextPage: string | null;
}

/** What to upload: an absolute path (re-opened per attempt) or a one-shot stream. */
export type UploadSource =
  string | { stream: NodeJS.ReadableStream | AsyncIterable<Uint8Array>; size?: number };

export interface UploadOptions {
  filename: string;
  mimeType?: string;
  signal?: AbortSignal | undefined;
  /** `expires_in_seconds`: the server deletes the file this long after the upload (3600..7776000). */
  expiresInSeconds?: number | undefined;
  /**
   * File IDs the caller already knows (recorded by any folder's manifest, queued for deletion, or
   * already suspected); never adopted after an unanswered attempt, since this client's own memory
   * only covers IDs it handed out itself.
   */
  isOwned?: ((id: string) => boolean) | undefined;
  /**
   * Claims other writers of a shared state database hold, asked live (another host may have
   * uploaded a file of the same name and size a moment ago): their files are never adopted, and
   * while one of them has an upload of this name and size unresolved, nothing is provably ours.
   */
  foreign?: ForeignUploadClaims | undefined;
  /**
   * Called (and awaited, so the caller can make them durable) with the remote files an unanswered
   * attempt may have created but that cannot be proven ours; the upload is then sent again.
   */
  onSuspects?: ((files: RemoteFile[], why: string) => Promise<void> | void) | undefined;
  /**
   * Called (and awaited) for every unanswered attempt that adopted nothing: its file may still
   * appear later, so a listing after `settleAfter` must look for it.
   */
  onUnsettled?: ((attempt: UnsettledUpload) => Promise<void> | void) | undefined;
  /**
   * The version of a path source the caller hashed. When given, every attempt sends exactly that
   * version, read from one open descriptor checked before and after the read, or fails with
   * SourceChangedError; `onVersionSent` confirms it (and that the file was still that version, with
   * a name, when the answer came), so the caller needs no stat of the path after the upload.
   */
  expected?: FileVersion | undefined;
  /** Called once the answered attempt is known to have sent `expected`'s bytes, still current then. */
  onVersionSent?: (() => void) | undefined;
}

/** What other writers of a shared state database claim (see UploadOptions.foreign). */
export interface ForeignUploadClaims {
  /** Of these IDs, those another writer records now. */
  claimed(ids: readonly string[]): Promise<ReadonlySet<string>>;
  /** Whether another writer has an unresolved upload of this name and size. */
  uploading(filename: string, sizeBytes: number): Promise<boolean>;
}

/** An unanswered upload attempt whose file may still appear. */
export interface UnsettledUpload {
  filename: string;
  sizeBytes: number;
  startedAt: Date;
  /** Twice the upload timeout after the start: by then a server has given up on the request too. */
  settleAfter: Date;
}

export interface FindRecentUploadOptions {
  signal?: AbortSignal;
  /** IDs never to return (default: the IDs this client already handed out). */
  exclude?: { has(id: string): boolean };
}

/** What the files an unanswered attempt may have created amount to. */
export interface UploadCandidates {
  /** The one file provably created by the attempt (see `judgeCandidates`), or null. */
  adopt: RemoteFile | null;
  /** Files that may be the attempt's but cannot be proven so. */
  suspects: RemoteFile[];
  why?: string | undefined;
}

/**
 * Judges the unclaimed files of an attempt's name and size. A file created before the attempt
 * began by the server's clock (`created_at < start + offset.lo`) is certainly someone else's. One
 * is adopted only if it is the only possible one and certainly created at or after the start
 * (`created_at >= start + offset.hi`); without a clock estimate nothing is provable.
 */
export function judgeCandidates(
  files: readonly RemoteFile[],
  startedAt: Date,
  offset: ClockOffset | undefined,
): UploadCandidates {
  const start = startedAt.getTime();
  const lo = offset?.lo ?? -Infinity;
  const hi = offset?.hi ?? Infinity;
  const possible = files.filter((f) => {
    const created = Date.parse(f.createdAt);
    return !Number.isFinite(created) || created >= start + lo;
  });
  if (possible.length === 0) return { adopt: null, suspects: [] };
  const only = possible.length === 1 ? possible[0]! : undefined;
  if (only && Date.parse(only.createdAt) >= start + hi) return { adopt: only, suspects: [] };
  const window = offset
    ? `the server clock is known to within ${Math.round(hi - lo)} ms`
    : 'no server clock estimate yet';
  const why =
    possible.length > 1
      ? `${possible.length} files of this name and size appeared around an unanswered upload; which one (if any) is ours cannot be told`
      : `created too close to the start of an unanswered upload to tell it from another client's file (${window})`;
  return { adopt: null, suspects: possible, why };
}

export const DEFAULT_BETAS: readonly string[] = ['files-api-2025-04-14'];
/** The documented range of `expires_in_seconds`: one hour to ninety days. */
export const EXPIRES_IN_SECONDS_MIN = 3600;
export const EXPIRES_IN_SECONDS_MAX = 7_776_000;
/** Largest `ids` filter the GA listing accepts (after de-duplication). */
export const IDS_BATCH = 100;
const FILES_PATH = '/v1/files';
const LIST_ALL_PAGE_SIZE = 1000;

/**
 * Client of the Files API (GA contract by default, the beta one on request) over undici
 * `request`: streamed uploads, paged listing, lookups by ID, retrieve, delete, download; typed
 * errors, retries with the API's retry rules, and recovery from uploads whose outcome is unknown.
 */
/** The part of a client its scoped views share: connections and the record of IDs handed out. */
interface SharedState {
  agent: Agent;
  tracker: UploadTracker;
  clock: ServerClock;
  views: Map<string, FilesClient>;
  health: ApiHealth;
}

/** What a scoped view changes: the workspace its requests act on, the default upload expiry. */
export interface ClientScope {
  workspaceId?: string | undefined;
  expiresInSeconds?: number | undefined;
}

export class FilesClient {
  private readonly transport: Transport;
  private readonly agent: Agent;
  private readonly tracker: UploadTracker;
  private readonly clock: ServerClock;
  private readonly shared: SharedState;
  // Views share the root's connections; only the root closes them.
  private readonly isView: boolean;
  /** The contract this client speaks. */
  readonly contract: ApiContract;
  private readonly opts: Required<
    Pick<FilesClientOptions, 'timeoutMs' | 'uploadTimeoutMs' | 'maxRetries' | 'maxRetryTimeMs'>
  > &
    FilesClientOptions;

  constructor(options: FilesClientOptions, shared?: SharedState) {
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
    this.contract = options.contract ?? 'ga';
    if (options.expiresInSeconds !== undefined) checkExpiresInSeconds(options.expiresInSeconds);
    this.isView = shared !== undefined;
    this.agent =
      shared?.agent ??
      new Agent({
        connections: options.maxConnections ?? 8,
        connect: { timeout: options.connectTimeoutMs ?? 10_000 },
      });
    this.tracker = shared?.tracker ?? new UploadTracker();
    this.clock = shared?.clock ?? new ServerClock();
    this.shared = shared ?? {
      agent: this.agent,
      tracker: this.tracker,
      clock: this.clock,
      views: new Map(),
      health: new ApiHealth(options.breaker),
    };
    this.transport = new Transport({
      baseUrl: options.baseUrl ?? process.env.ANTHROPIC_BASE_URL ?? 'https://api.anthropic.com',
      apiKey: options.apiKey,
      betas: this.contract === 'beta' ? (options.betas ?? DEFAULT_BETAS) : [],
      workspaceId: options.workspaceId,
      dispatcher: clockObservingDispatcher(this.agent, this.clock),
      health: this.shared.health,
    });
  }

  /** Server clock minus ours (ms) as far as the server's answers tell; undefined before any answer. */
  clockOffset(): ClockOffset | undefined {
    return this.clock.offset;
  }

  /** Twice the upload timeout: how long after an unanswered attempt its file may still appear. */
  get settleDelayMs(): number {
    return 2 * this.opts.uploadTimeoutMs;
  }

  /** The breaker and storage-quota pause shared by this client and its views. */
  get health(): ApiHealth {
    return this.shared.health;
  }

  /**
   * The same client acting on another workspace and/or uploading with a default expiry (e.g. one
   * per configured folder). It shares the connections and the IDs handed out; views are cached,
   * and closing one leaves the shared connections open.
   */
  scoped(scope: ClientScope): FilesClient {
    const workspaceId = scope.workspaceId ?? this.opts.workspaceId;
    const expiresInSeconds = scope.expiresInSeconds ?? this.opts.expiresInSeconds;
    if (workspaceId === this.opts.workspaceId && expiresInSeconds === this.opts.expiresInSeconds) return this;
    const key = `${workspaceId ?? ''}|${expiresInSeconds ?? ''}`;
    let view = this.shared.views.get(key);
    if (!view) {
      view = new FilesClient({ ...this.opts, workspaceId, expiresInSeconds }, this.shared);
      this.shared.views.set(key, view);
    }
    return view;
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
    const expiresInSeconds = opts.expiresInSeconds ?? this.opts.expiresInSeconds;
    if (expiresInSeconds !== undefined) checkExpiresInSeconds(expiresInSeconds);
    const fields: [string, string][] =
      expiresInSeconds === undefined ? [] : [['expires_in_seconds', String(expiresInSeconds)]];
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
      let sent: OpenVersion | undefined;
      if (isPath && opts.expected !== undefined) {
        const frame = multipartFrame(filename, mimeType, fields);
        sent = await openVersion(source, opts.expected, filename);
        body = await versionBody(sent, frame, filename);
        headers = {
          'content-type': frame.contentType,
          'content-length': String(frame.head.byteLength + sent.size + frame.tail.byteLength),
        };
        sizeBytes = sent.size;
      } else if (isPath) {
        const blob = await openPathBlob(source, mimeType, filename);
        sizeBytes = blob.size;
        const form = new FormData();
        for (const [name, value] of fields) form.append(name, value);
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
          fields,
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
          const file = this.parse(WireFileSchema, json, 'POST', route, toRemoteFile);
          this.tracker.claim(file.id);
          // created_at was stamped between our send and the answer: a millisecond-precise sample.
          this.clock.observe(Date.parse(file.createdAt), startedAt.getTime(), Date.now());
          return file;
        });
      try {
        const file = await (key ? this.tracker.track(key, post) : post);
        if (sent !== undefined && (await sent.stillCurrent())) opts.onVersionSent?.();
        return file;
      } catch (err) {
        if (isAbortError(err) || signal?.aborted) throw err;
        if (isNotReadable(err) || isFileChanged(err)) {
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
          const adopted = await this.resolveAmbiguousUpload(filename, size, startedAt, err, signal, opts);
          if (adopted) return adopted;
          await opts.onUnsettled?.({
            filename,
            sizeBytes: size,
            startedAt,
            settleAfter: new Date(startedAt.getTime() + this.settleDelayMs),
          });
        }
        if (!isPath && streamTouched && shouldRetry(err, 1)) {
          throw new SourceNotRetryableError(
            `Upload of ${filename} failed (${err instanceof Error ? err.name : 'error'}) after its stream was consumed`,
            { filename, route },
            { cause: err },
          );
        }
        throw err;
      } finally {
        await sent?.close();
      }
    };

    return withRetry(attemptOnce, this.retryOptions('POST', route, signal));
  }

  /**
   * One page of the listing. GA: `limit` + the opaque `page` cursor; beta: `page` is sent as
   * `after_id`. Never rely on the order (GA documents none).
   */
  async list(opts: { limit?: number; page?: string; signal?: AbortSignal } = {}): Promise<FilePage> {
    const route = FILES_PATH;
    const beta = this.contract === 'beta';
    const query = beta ? { limit: opts.limit, after_id: opts.page } : { limit: opts.limit, page: opts.page };
    const json = await this.getJson(route, query, opts.signal);
    if (!beta) {
      const plain = readGaFilePage(json);
      if (plain !== undefined) return plain;
      return this.parse(WireGaFilePageSchema, json, 'GET', route, (page) => ({
        data: page.data.map(toRemoteFile),
        nextPage: page.next_page,
      }));
    }
    return this.parse(WireFilePageSchema, json, 'GET', route, (page) => {
      const lastId = page.last_id ?? null;
      if (page.has_more && lastId === null) {
        throw new ContractMismatchError(`GET ${route}: has_more is true but last_id is missing`, {
          method: 'GET',
          route,
          field: 'last_id',
          contract: this.contract,
        });
      }
      return { data: page.data.map(toRemoteFile), nextPage: page.has_more ? lastId : null };
    });
  }

  /**
   * Every file, page by page (pages of 1000); stops with PaginationLoopError if the server hands
   * out a cursor it already gave.
   */
  async *listAll(opts: { pageSize?: number; signal?: AbortSignal } = {}): AsyncGenerator<RemoteFile> {
    for await (const files of this.listPages(opts)) yield* files;
  }

  /**
   * Every file, a page at a time (same cursor checks as listAll): a caller that keeps them all
   * saves an async step per file, a tenth of a second of CPU over 100k files.
   */
  async *listPages(opts: { pageSize?: number; signal?: AbortSignal } = {}): AsyncGenerator<RemoteFile[]> {
    const limit = opts.pageSize ?? LIST_ALL_PAGE_SIZE;
    for await (const page of this.pages(limit, opts.signal)) yield page.data;
  }

  /**
   * The visible files among `ids` (de-duplicated; unknown, deleted and expired ones are simply
   * absent). GA: the `ids` filter in batches of 100; beta, which has no filter: one retrieve each.
   */
  async retrieveMany(ids: Iterable<string>, opts: { signal?: AbortSignal } = {}): Promise<RemoteFile[]> {
    const unique = [...new Set(ids)];
    const out: RemoteFile[] = [];
    if (this.contract === 'beta') {
      for (const id of unique) {
        try {
          out.push(await this.retrieve(id, opts));
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err;
        }
      }
      return out;
    }
    const route = FILES_PATH;
    for (let i = 0; i < unique.length; i += IDS_BATCH) {
      const batch = unique.slice(i, i + IDS_BATCH);
      const json = await this.getJson(route, { ids: batch }, opts.signal);
      const page = this.parse(WireGaFilePageSchema, json, 'GET', route, (p) => p);
      const wanted = new Set(batch);
      // Defensive: a server that ignored the filter must not make unrelated files look like ours.
      for (const f of page.data) if (wanted.has(f.id)) out.push(toRemoteFile(f));
    }
    return out;
  }

  private async *pages(limit: number, signal: AbortSignal | undefined): AsyncGenerator<FilePage> {
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (;;) {
      const page = await this.list({
        limit,
        ...(cursor !== undefined ? { page: cursor } : {}),
        ...(signal ? { signal } : {}),
      });
      yield page;
      if (page.nextPage === null) return;
      if (seen.has(page.nextPage)) {
        throw new PaginationLoopError('The file listing repeated a cursor; stopping instead of looping', {
          route: FILES_PATH,
          cursor,
          nextPage: page.nextPage,
        });
      }
      seen.add(page.nextPage);
      cursor = page.nextPage;
    }
  }

  private getJson(
    route: string,
    query: Record<string, string | number | readonly string[] | undefined>,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    return withRetry(
      () =>
        this.transport.json({ method: 'GET', path: route, query, timeoutMs: this.opts.timeoutMs, signal }),
      this.retryOptions('GET', route, signal),
    );
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
    return this.parse(WireFileSchema, json, 'GET', route, toRemoteFile);
  }

  /** Deletes a file; a 404 (also `file_expired`) counts as done (`alreadyGone: true`). */
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
      const deleted = this.parse(WireDeletedSchema, json, 'DELETE', route, (d) => d);
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
   * Every file named `filename` with `sizeBytes` bytes that is not excluded (default: the IDs this
   * client handed out). GA documents no listing order, so the whole listing is read.
   */
  async findUploadCandidates(
    filename: string,
    sizeBytes: number,
    opts: FindRecentUploadOptions = {},
  ): Promise<RemoteFile[]> {
    const exclude = opts.exclude ?? this.tracker.claimed;
    const out: RemoteFile[] = [];
    for await (const page of this.pages(LIST_ALL_PAGE_SIZE, opts.signal)) {
      for (const file of page.data)
        if (file.filename === filename && file.sizeBytes === sizeBytes && !exclude.has(file.id))
          out.push(file);
    }
    return out;
  }

  /**
   * The newest candidate (see `findUploadCandidates`) created at or after `since` by our clock.
   * A lookup helper only: ownership is judged by `judgeCandidates` with the server's clock.
   */
  async findRecentUpload(
    filename: string,
    sizeBytes: number,
    since: Date,
    opts: FindRecentUploadOptions = {},
  ): Promise<RemoteFile | null> {
    let best: RemoteFile | null = null;
    for (const f of await this.findUploadCandidates(filename, sizeBytes, opts)) {
      const created = Date.parse(f.createdAt);
      if (created < since.getTime()) continue;
      if (best === null || Date.parse(best.createdAt) < created) best = f;
    }
    return best;
  }

  /** Closes the keep-alive connections (of the root client; a scoped view's close does nothing). */
  async close(): Promise<void> {
    if (this.isView) return;
    await this.agent.close();
  }

  private async resolveAmbiguousUpload(
    filename: string,
    sizeBytes: number,
    startedAt: Date,
    original: ConnectionError | ApiError,
    signal: AbortSignal | undefined,
    opts: Pick<UploadOptions, 'isOwned' | 'onSuspects' | 'foreign'>,
  ): Promise<RemoteFile | null> {
    const key = UploadTracker.keyOf(filename, sizeBytes);
    const code = original instanceof ConnectionError ? original.code : `HTTP ${original.status}`;
    const claimed = this.tracker.claimed;
    const isOwned = opts.isOwned;
    const exclude = isOwned ? { has: (id: string) => claimed.has(id) || isOwned(id) } : claimed;
    return this.tracker.resolveExclusively(key, async () => {
      let files: RemoteFile[];
      try {
        files = await this.findUploadCandidates(filename, sizeBytes, {
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
      if (opts.foreign && files.length > 0)
        files = await this.withoutForeign(files, filename, sizeBytes, code, opts.foreign);
      // Judged after the lookup, whose answers sharpened the clock estimate.
      const verdict = judgeCandidates(files, startedAt, this.clock.offset);
      if (verdict.adopt) {
        this.tracker.claim(verdict.adopt.id);
        this.opts.logger?.info(
          { fileId: verdict.adopt.id, filename, code },
          'adopted the file an unanswered upload provably created',
        );
        return verdict.adopt;
      }
      if (verdict.suspects.length > 0) {
        for (const f of verdict.suspects) this.tracker.claim(f.id);
        this.opts.logger?.warn(
          { filename, code, suspects: verdict.suspects.map((f) => f.id), why: verdict.why },
          'an unanswered upload may have created a file that cannot be proven ours; uploading again',
        );
        await opts.onSuspects?.(verdict.suspects, verdict.why ?? 'unproven');
      }
      return null;
    });
  }

  /**
   * The candidates no other writer claims. While another writer has an upload of this name and
   * size unresolved, any candidate may be its file: the outcome stays unknown (the caller keeps
   * its intent and a later reconciliation settles it), rather than adopting or suspecting it.
   */
  private async withoutForeign(
    files: RemoteFile[],
    filename: string,
    sizeBytes: number,
    code: string,
    foreign: ForeignUploadClaims,
  ): Promise<RemoteFile[]> {
    let claimed: ReadonlySet<string>;
    let uploading: boolean;
    try {
      claimed = await foreign.claimed(files.map((f) => f.id));
      uploading = await foreign.uploading(filename, sizeBytes);
    } catch (err) {
      throw new UploadOutcomeUnknownError(
        `Upload of ${filename} got no answer (${code}) and the state database could not say whether its candidates are another folder's: the file may exist`,
        { filename, sizeBytes, code },
        { cause: err },
      );
    }
    const mine = files.filter((f) => !claimed.has(f.id));
    if (uploading && mine.length > 0) {
      throw new UploadOutcomeUnknownError(
        `Upload of ${filename} got no answer (${code}) and another folder has an upload of the same name and size unresolved: the file may be either's; left to reconciliation`,
        { filename, sizeBytes, code, candidates: mine.map((f) => f.id) },
      );
    }
    return mine;
  }

  // Parses a 2xx body against the contract; a mismatch names the first offending field.
  private parse<D, R>(
    schema: z.ZodType<D>,
    json: unknown,
    method: string,
    route: string,
    map: (d: D) => R,
  ): R {
    const parsed = schema.safeParse(json);
    if (parsed.success) return map(parsed.data);
    const issue = parsed.error.issues[0];
    const field = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : '(body)';
    throw new ContractMismatchError(
      `${method} ${route}: the answer does not match the Files API ${this.contract} contract: field "${field}": ${issue?.message ?? 'invalid'}`,
      { method, route, field, contract: this.contract },
    );
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

function checkExpiresInSeconds(value: number): void {
  if (Number.isInteger(value) && value >= EXPIRES_IN_SECONDS_MIN && value <= EXPIRES_IN_SECONDS_MAX) return;
  throw new InvalidRequestOptionError(
    `expiresInSeconds must be an integer from ${EXPIRES_IN_SECONDS_MIN} to ${EXPIRES_IN_SECONDS_MAX}, got ${value}`,
    { field: 'expiresInSeconds', value },
  );
}

/**
 * The client a folder's requests go through: scoped to the folder's workspace and upload expiry
 * when the client is a FilesClient (test doubles pass through unchanged).
 */
export function clientForFolder<T>(
  client: T,
  folder: { workspaceId?: string | undefined; expiresInSeconds?: number | undefined },
): T {
  if (!(client instanceof FilesClient)) return client;
  if (folder.workspaceId === undefined && folder.expiresInSeconds === undefined) return client;
  return client.scoped(folder) as T;
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

/** Files up to this size are sent from one buffer (head, content and tail read into it at once). */
export const BUFFERED_UPLOAD_MAX_BYTES = 1 << 20;

async function openVersion(path: string, expected: FileVersion, filename: string): Promise<OpenVersion> {
  try {
    // A buffered read is checked by the stat after it (one async stat less per small file); a
    // streamed one is checked now, before a request starts, so a changed file sends nothing.
    return expected.size > BUFFERED_UPLOAD_MAX_BYTES
      ? await OpenVersion.open(path, expected)
      : await OpenVersion.openUnchecked(path, expected);
  } catch (err) {
    // Changed, vanished or unreadable since the hash: the caller's business (re-scan), not a retry.
    throw new SourceChangedError(
      `Upload of ${filename}: ${path} is not the version that was hashed`,
      { path, filename },
      { cause: err },
    );
  }
}

/**
 * The body of a path upload: one buffer for a small file (no form-data encoder, no stream, two
 * syscalls for the content), otherwise the frame around 1 MiB reads of the open version.
 */
async function versionBody(
  file: OpenVersion,
  frame: MultipartFrame,
  filename: string,
): Promise<Uint8Array | AsyncIterable<Uint8Array>> {
  if (file.size > BUFFERED_UPLOAD_MAX_BYTES) return framedChunks(frame, file.chunks());
  try {
    return await file.readFramed(frame.head, frame.tail);
  } catch (err) {
    throw new SourceChangedError(
      `Upload of ${filename}: the file changed while it was read`,
      { filename },
      { cause: err },
    );
  }
}

async function* framedChunks(
  frame: MultipartFrame,
  chunks: AsyncIterable<Buffer>,
): AsyncGenerator<Uint8Array> {
  yield frame.head;
  yield* chunks;
  yield frame.tail;
}

function isFileChanged(err: unknown): boolean {
  let cur: unknown = err;
  for (let depth = 0; depth < 5 && cur instanceof Error; depth++) {
    if (cur instanceof FileChangedError) return true;
    cur = cur.cause;
  }
  return false;
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
