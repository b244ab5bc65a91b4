/** The emulator's HTTP server: request ids, auth, faults, rate limit, routing, shutdown. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';
import mime from 'mime-types';
import type { Logger } from 'pino';
import { DEFAULT_WORKSPACE, checkApiHeaders, type AccessPolicy } from './auth.js';
import { generatedContentSha256 } from './content.js';
import { DataDirectory } from './disk.js';
import { ApiErrorResponse, DuplicateFileIdError, EmulatorError, notFound } from './errors.js';
import { FAULT_COUNTER_KEYS, FaultInjector, type FaultKind } from './faults.js';
import { afterBodyDrained, sendApiError, sendJson } from './http.js';
import { newFileId, newRequestId } from './ids.js';
import { handleInspection } from './inspection.js';
import { SlidingWindowLimiter } from './rate-limit.js';
import {
  apiFile,
  deleteFile,
  fileContent,
  listFiles,
  listFilesRepeatingCursor,
  matchRoute,
  methodNotAllowed,
  retrieveFile,
  type RouteResult,
} from './routes.js';
import { FileStore, type StoredFile } from './store.js';
import type {
  AddFileInput,
  EmulatorFile,
  EmulatorOptions,
  EmulatorSettings,
  EmulatorStats,
  FaultOptions,
  RunningEmulator,
} from './types.js';
import { ClientAbortedError, receiveUpload } from './upload.js';

const DEFAULT_MAX_UPLOAD_BYTES = 500 * 1024 * 1024;
// Multipart framing around the file part; a declared body bigger than max + this is refused unread.
const MULTIPART_OVERHEAD_SLACK = 1024 * 1024;

const INJECTED_ERRORS: Record<
  'rate429' | 'rate500' | 'rate529',
  { status: number; type: string; message: string }
> = {
  rate429: { status: 429, type: 'rate_limit_error', message: 'Rate limited (injected fault)' },
  rate500: { status: 500, type: 'api_error', message: 'Internal server error (injected fault)' },
  rate529: { status: 529, type: 'overloaded_error', message: 'Overloaded (injected fault)' },
};

function emptyStats(): EmulatorStats {
  return {
    requests: 0,
    byRoute: {},
    faultsInjected: Object.fromEntries(FAULT_COUNTER_KEYS.map((k) => [k, 0])),
    uploadsCreated: 0,
    deletes: 0,
    inFlight: 0,
  };
}

function retryAfterHeaders(ms: number): Record<string, string> {
  return {
    'retry-after': String(Math.max(1, Math.ceil(ms / 1000))),
    'retry-after-ms': String(Math.ceil(ms)),
  };
}

/** The emulator without a listening socket: state plus a node:http request handler. */
export interface EmulatorCore {
  handler(req: IncomingMessage, res: ServerResponse): void;
  files(): EmulatorFile[];
  stats(): EmulatorStats;
  setFaults(f: FaultOptions): void;
  faults(): FaultOptions;
  addFile(meta: AddFileInput): EmulatorFile;
  /** Moves the emulator's clock forward (expiry, created_at); never backwards. */
  advanceTime(ms: number): void;
  /** Total bytes of live files over which uploads get 400 storage_quota_exceeded; null = no quota. */
  setStorageQuota(bytes: number | null): void;
  /** Forgets every file and counter (and wipes the data directory); keeps the fault config. */
  reset(): Promise<void>;
  /** Releases the data directory's journal. */
  dispose(): void;
}

class Emulator implements EmulatorCore {
  // One store per workspace: a workspace sees, pages and deletes only its own files.
  private readonly stores = new Map<string, FileStore>();
  private readonly policy: AccessPolicy;
  private clockOffsetMs = 0;
  private storageQuotaBytes: number | null;
  private readonly faultInjector: FaultInjector;
  private readonly limiter: SlidingWindowLimiter;
  private counters = emptyStats();
  private readonly maxUploadBytes: number;

  constructor(
    private readonly options: EmulatorOptions,
    private readonly disk: DataDirectory | null,
    private readonly log: Logger | undefined,
  ) {
    this.faultInjector = new FaultInjector(options.faults ?? {});
    this.limiter = new SlidingWindowLimiter(options.requestsPerMinute ?? 0);
    this.maxUploadBytes = options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
    const workspaces = options.workspaces?.length ? [...new Set(options.workspaces)] : [DEFAULT_WORKSPACE];
    this.policy = { expectedKey: options.apiKey, workspaces, gaOnly: options.gaOnly ?? false };
    this.storageQuotaBytes = options.storageQuotaBytes ?? null;
    if (disk) this.replay(disk);
    this.handler = this.handler.bind(this);
  }

  private replay(disk: DataDirectory): void {
    for (const record of disk.readJournal()) {
      if (record.op === 'add') {
        const store = this.store(record.file.workspaceId);
        if (!store.get(record.file.id)) store.insert(record.file);
      } else {
        for (const store of this.stores.values()) store.delete(record.id);
      }
    }
  }

  private store(workspaceId: string | undefined): FileStore {
    const ws = workspaceId ?? this.policy.workspaces[0] ?? DEFAULT_WORKSPACE;
    let store = this.stores.get(ws);
    if (!store) {
      store = new FileStore();
      this.stores.set(ws, store);
    }
    return store;
  }

  private now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  // Expired files vanish before any request can see them; their bytes stop counting.
  private sweepExpired(): void {
    const now = this.now();
    for (const store of this.stores.values()) {
      for (const f of store.sweep(now)) {
        this.disk?.append({ op: 'delete', id: f.id });
        void this.disk?.removeContent(f.id);
      }
    }
  }

  private storedBytes(): number {
    let total = 0;
    for (const store of this.stores.values()) total += store.storedBytes;
    return total;
  }

  handler(req: IncomingMessage, res: ServerResponse): void {
    const requestId = newRequestId();
    res.setHeader('request-id', requestId);
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    const method = req.method ?? 'GET';
    res.once('finish', () => {
      this.log?.debug(
        { requestId, method, path: url.pathname, status: res.statusCode, ms: Date.now() - started },
        'emulator request',
      );
    });
    const work =
      url.pathname === '/_emulator' || url.pathname.startsWith('/_emulator/')
        ? handleInspection(this, req, res, url, method)
        : this.handleApi(req, res, url, method, requestId);
    work.catch((err: unknown) => {
      if (err instanceof ClientAbortedError) return;
      let apiError: ApiErrorResponse;
      if (err instanceof ApiErrorResponse) {
        apiError = err;
      } else {
        this.log?.error({ err, requestId }, 'emulator internal error');
        apiError = new ApiErrorResponse(500, 'api_error', 'Internal emulator error');
      }
      this.respondError(req, res, apiError, requestId);
    });
  }

  private respondError(
    req: IncomingMessage,
    res: ServerResponse,
    err: ApiErrorResponse,
    requestId: string,
  ): void {
    if (err.status === 413) {
      // Do not read the rest of an oversized body: answer now and drop the connection after.
      sendApiError(res, err, requestId, { connection: 'close' });
      return;
    }
    afterBodyDrained(req, () => sendApiError(res, err, requestId));
  }

  private async handleApi(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    method: string,
    requestId: string,
  ): Promise<void> {
    this.counters.inFlight++;
    try {
      await this.answerApi(req, res, url, method, requestId);
    } finally {
      this.counters.inFlight--;
    }
  }

  private async answerApi(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    method: string,
    _requestId: string,
  ): Promise<void> {
    const c = this.counters;
    c.requests++;
    const match = matchRoute(method, url.pathname);
    c.byRoute[match.name] = (c.byRoute[match.name] ?? 0) + 1;
    if (!url.pathname.startsWith('/v1/')) throw notFound(`Not found: ${method} ${url.pathname}`);
    // Like the real API: a request without valid credentials or headers is refused before it
    // counts against the rate limit or meets any injected fault.
    const scope = checkApiHeaders(req.headers, this.policy);
    if (scope instanceof ApiErrorResponse) throw scope;
    if (this.faultInjector.refuseKey)
      throw new ApiErrorResponse(
        401,
        'authentication_error',
        'invalid x-api-key (refused by the emulator switch)',
      );
    // The SDK reads this response header into APIError.workspaceID.
    res.setHeader('anthropic-workspace-id', scope.workspaceId);
    this.sweepExpired();

    const slot = this.limiter.tryAcquire();
    if (!slot.ok) {
      this.countFault('rpmLimit');
      throw new ApiErrorResponse(
        429,
        'rate_limit_error',
        'Number of requests has exceeded your per-minute rate limit',
        {},
        retryAfterHeaders(slot.retryAfterMs),
      );
    }
    const isUpload = match.kind === 'found' && match.name === 'POST /v1/files';
    const fault = this.faultInjector.pick(isUpload);
    if (fault === 'rateReset') {
      this.countFault(fault);
      req.socket.destroy();
      return;
    }
    const latency = this.faultInjector.latencyMs;
    if (latency > 0) await delay(latency);
    if (fault === 'rate429' || fault === 'rate500' || fault === 'rate529') {
      this.countFault(fault);
      const e = INJECTED_ERRORS[fault];
      const headers = fault === 'rate429' ? retryAfterHeaders(this.faultInjector.retryAfterMs) : {};
      throw new ApiErrorResponse(e.status, e.type, e.message, {}, headers);
    }

    if (match.kind === 'not-found') throw notFound(`Not found: ${method} ${url.pathname}`);
    if (match.kind === 'method-not-allowed') throw methodNotAllowed(match.allow);

    const deps = { store: this.store(scope.workspaceId), disk: this.disk };
    const fileId = match.fileId ?? '';
    switch (match.name) {
      case 'POST /v1/files':
        await this.upload(
          req,
          res,
          fault === 'rateCreatedThenReset' || fault === 'rateLateCreate' ? fault : null,
          scope.workspaceId,
        );
        return;
      case 'GET /v1/files':
        if (this.faultInjector.repeatCursor && scope.contract === 'ga')
          return send(res, listFilesRepeatingCursor(deps, url.searchParams));
        return send(res, listFiles(deps, url.searchParams, scope.contract));
      case 'GET /v1/files/{id}':
        return send(res, retrieveFile(deps, fileId));
      case 'GET /v1/files/{id}/content':
        return send(res, fileContent(deps, fileId));
      case 'DELETE /v1/files/{id}': {
        const result = await deleteFile(deps, fileId);
        c.deletes++;
        return send(res, result);
      }
    }
  }

  private async upload(
    req: IncomingMessage,
    res: ServerResponse,
    fault: 'rateCreatedThenReset' | 'rateLateCreate' | null,
    workspaceId: string,
  ): Promise<void> {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.maxUploadBytes + MULTIPART_OVERHEAD_SLACK) {
      throw new ApiErrorResponse(
        413,
        'request_too_large',
        `request exceeds the maximum size of ${this.maxUploadBytes} bytes`,
      );
    }
    const received = await receiveUpload(req, {
      maxUploadBytes: this.maxUploadBytes,
      disk: this.disk,
      newId: newFileId,
    });
    const quota = this.storageQuotaBytes;
    if (quota !== null && this.storedBytes() + received.sizeBytes > quota) {
      await this.disk?.removeContent(received.id);
      throw new ApiErrorResponse(
        400,
        'invalid_request_error',
        'Your organization has reached its file storage quota. Delete files to free up space, then retry the upload.',
        { quota },
        {},
        'storage_quota_exceeded',
      );
    }
    if (fault === 'rateLateCreate') {
      // Nothing is answered; the file appears after the client has given up (and the socket goes).
      this.countFault(fault);
      await delay(this.faultInjector.lateCreateMs);
    }
    const { expiresInSeconds, ...rest } = received;
    const now = this.now();
    const file = this.store(workspaceId).insert({
      ...rest,
      createdAt: new Date(now).toISOString(),
      downloadable: false,
      workspaceId,
      expiresAt:
        expiresInSeconds === undefined ? null : new Date(now + expiresInSeconds * 1000).toISOString(),
    });
    this.disk?.append({ op: 'add', file });
    this.counters.uploadsCreated++;
    if (fault !== null) {
      this.countFault(fault === 'rateCreatedThenReset' ? fault : 'lateCreated');
      req.socket.destroy();
      return;
    }
    send(res, { status: 200, json: apiFile(file) });
  }

  private countFault(kind: FaultKind | 'rpmLimit' | 'lateCreated'): void {
    this.counters.faultsInjected[kind] = (this.counters.faultsInjected[kind] ?? 0) + 1;
  }

  files(): EmulatorFile[] {
    this.sweepExpired();
    const stores = [...this.stores.values()];
    if (stores.length === 1) return (stores[0] as FileStore).all().map(toEmulatorFile);
    const all = stores.flatMap((s) => s.all());
    // Newest first across workspaces; sort is stable, so each store's own order is kept for ties.
    all.sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
    return all.map(toEmulatorFile);
  }

  advanceTime(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new EmulatorError('advanceTime: ms must be >= 0', { ms });
    this.clockOffsetMs += ms;
  }

  setStorageQuota(bytes: number | null): void {
    if (bytes !== null && (!Number.isInteger(bytes) || bytes < 0))
      throw new EmulatorError('setStorageQuota: bytes must be a non-negative integer or null', { bytes });
    this.storageQuotaBytes = bytes;
  }

  stats(): EmulatorStats {
    const c = this.counters;
    return { ...c, byRoute: { ...c.byRoute }, faultsInjected: { ...c.faultsInjected } };
  }

  setFaults(f: FaultOptions): void {
    this.faultInjector.configure(f);
  }

  faults(): FaultOptions {
    return this.faultInjector.config;
  }

  addFile(meta: AddFileInput): EmulatorFile {
    const createdAt = meta.createdAt ?? new Date(this.now()).toISOString();
    if (Number.isNaN(Date.parse(createdAt)))
      throw new EmulatorError('addFile: createdAt is not a date', { createdAt });
    if (!Number.isInteger(meta.sizeBytes) || meta.sizeBytes < 0) {
      throw new EmulatorError('addFile: sizeBytes must be a non-negative integer', {
        sizeBytes: meta.sizeBytes,
      });
    }
    const file: StoredFile = {
      id: meta.id ?? newFileId(),
      filename: meta.filename,
      mimeType: meta.mimeType ?? (mime.lookup(meta.filename) || 'application/octet-stream'),
      sizeBytes: meta.sizeBytes,
      createdAt,
      sha256: meta.sha256 ?? null,
      downloadable: meta.downloadable ?? false,
      workspaceId: meta.workspaceId ?? this.policy.workspaces[0] ?? DEFAULT_WORKSPACE,
      expiresAt: meta.expiresAt ?? null,
    };
    if (!this.policy.workspaces.includes(file.workspaceId ?? '')) {
      throw new EmulatorError('addFile: workspaceId is not one of the emulator workspaces', {
        workspaceId: file.workspaceId,
      });
    }
    for (const store of this.stores.values()) {
      if (store.get(file.id)) throw new DuplicateFileIdError('file ID already exists', { fileId: file.id });
    }
    this.store(file.workspaceId).insert(file);
    this.disk?.append({ op: 'add', file });
    return toEmulatorFile(file);
  }

  async reset(): Promise<void> {
    for (const store of this.stores.values()) store.clear();
    // Requests being answered still finish (and count themselves out) after a reset.
    this.counters = { ...emptyStats(), inFlight: this.counters.inFlight };
    this.limiter.clear();
    await this.disk?.wipe();
  }

  dispose(): void {
    this.disk?.closeJournal();
  }

  // Stats and limits shown by GET /_emulator/state.
  settings(): EmulatorSettings {
    return {
      requestsPerMinute: this.options.requestsPerMinute ?? 0,
      maxUploadBytes: this.maxUploadBytes,
      dataDir: this.disk?.dir ?? null,
      gaOnly: this.policy.gaOnly,
      workspaces: [...this.policy.workspaces],
      storageQuotaBytes: this.storageQuotaBytes,
      storedBytes: this.storedBytes(),
      now: new Date(this.now()).toISOString(),
    };
  }
}

function toEmulatorFile(f: StoredFile): EmulatorFile {
  const out = {
    id: f.id,
    filename: f.filename,
    mimeType: f.mimeType,
    sizeBytes: f.sizeBytes,
    createdAt: f.createdAt,
    sha256: f.sha256 ?? '',
    downloadable: f.downloadable,
    workspaceId: f.workspaceId ?? DEFAULT_WORKSPACE,
    expiresAt: f.expiresAt ?? null,
  };
  if (f.sha256 === null) {
    // Seeded files get the hash of their generated content only when someone reads it: seeding
    // 100k big files must not hash terabytes of zeros.
    Object.defineProperty(out, 'sha256', {
      enumerable: true,
      configurable: true,
      get: () => (f.sha256 ??= generatedContentSha256(f.sizeBytes)),
    });
  }
  return out;
}

function send(res: ServerResponse, result: RouteResult): void {
  if ('json' in result) {
    sendJson(res, result.status, result.json);
    return;
  }
  res.writeHead(result.status, result.headers);
  pipeline(result.stream, res).catch(() => {
    // The client went away mid-download; nothing to answer.
  });
}

/** Creates the emulator's state and request handler without listening (for embedding). */
export async function createEmulatorHandler(
  options: EmulatorOptions = {},
): Promise<EmulatorCore & { settings(): ReturnType<Emulator['settings']> }> {
  const disk = options.dataDir ? await DataDirectory.open(options.dataDir) : null;
  return new Emulator(options, disk, options.logger);
}

/** A listening emulator server: its URL, port, and a close that also ends open sockets and the core. */
export interface ServedEmulator {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `handler` (the core's own, or a wrapper around it, as the benchmarks use) on host:port;
 * closing ends every open socket and disposes of the core.
 */
export async function serveEmulator(
  core: EmulatorCore,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  host = '127.0.0.1',
  port = 0,
): Promise<ServedEmulator> {
  const server: Server = createServer(handler);
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    core.dispose();
    throw err;
  }
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : 0;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${bound}`,
    port: bound,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
      }).then(() => core.dispose());
      return closing;
    },
  };
}

/** Starts a local Files API emulator on 127.0.0.1 (random port by default). */
export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const core = await createEmulatorHandler(options);
  const served = await serveEmulator(core, core.handler, options.host ?? '127.0.0.1', options.port ?? 0);
  options.logger?.info({ url: served.url }, 'files api emulator listening');
  return {
    url: served.url,
    port: served.port,
    files: () => core.files(),
    stats: () => core.stats(),
    setFaults: (f) => core.setFaults(f),
    addFile: (meta) => core.addFile(meta),
    advanceTime: (ms) => core.advanceTime(ms),
    setStorageQuota: (bytes) => core.setStorageQuota(bytes),
    close: () => served.close(),
  };
}
