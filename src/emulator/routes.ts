/** The emulator's /v1/files routes: matching, listing (GA and beta shapes), retrieve, delete. */
import type { Readable } from 'node:stream';
import { generatedContent } from './content.js';
import type { DataDirectory } from './disk.js';
import type { Contract } from './auth.js';
import { ApiErrorResponse, UnknownCursorError, fileExpired, invalidRequest, notFound } from './errors.js';
import type { FileStore, StoredFile } from './store.js';

/** What a route answers: a JSON body or a byte stream. */
export type RouteResult =
  { status: number; json: unknown } | { status: number; stream: Readable; headers: Record<string, string> };

/** What the /v1 routes need from the running emulator. */
export interface RouteDeps {
  store: FileStore;
  disk: DataDirectory | null;
}

/** A matched /v1 route. */
export type RouteMatch =
  | { kind: 'found'; name: RouteName; fileId?: string }
  | { kind: 'method-not-allowed'; name: string; allow: string[] }
  | { kind: 'not-found'; name: string };

/** The names used as stats.byRoute keys. */
export type RouteName =
  | 'POST /v1/files'
  | 'GET /v1/files'
  | 'GET /v1/files/{id}'
  | 'GET /v1/files/{id}/content'
  | 'DELETE /v1/files/{id}';

const LIST_DEFAULT_LIMIT = 20;
const LIST_MAX_LIMIT = 1000;
const IDS_MAX = 100;
const PAGE_PREFIX = 'page_';

/** Finds the route for a method and path (query already stripped). */
export function matchRoute(method: string, pathname: string): RouteMatch {
  const path = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
  if (path === '/v1/files') {
    if (method === 'GET') return { kind: 'found', name: 'GET /v1/files' };
    if (method === 'POST') return { kind: 'found', name: 'POST /v1/files' };
    return { kind: 'method-not-allowed', name: `${method} /v1/files`, allow: ['GET', 'POST'] };
  }
  const m = /^\/v1\/files\/([^/]+)(\/content)?$/.exec(path);
  if (m) {
    const fileId = safeDecode(m[1] ?? '');
    if (m[2]) {
      if (method === 'GET') return { kind: 'found', name: 'GET /v1/files/{id}/content', fileId };
      return { kind: 'method-not-allowed', name: `${method} /v1/files/{id}/content`, allow: ['GET'] };
    }
    if (method === 'GET') return { kind: 'found', name: 'GET /v1/files/{id}', fileId };
    if (method === 'DELETE') return { kind: 'found', name: 'DELETE /v1/files/{id}', fileId };
    return { kind: 'method-not-allowed', name: `${method} /v1/files/{id}`, allow: ['GET', 'DELETE'] };
  }
  return { kind: 'not-found', name: 'other' };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The API's JSON shape of a file. */
export function apiFile(f: StoredFile): object {
  return {
    id: f.id,
    type: 'file',
    filename: f.filename,
    mime_type: f.mimeType,
    size_bytes: f.sizeBytes,
    created_at: f.createdAt,
    downloadable: f.downloadable,
    expires_at: f.expiresAt ?? null,
  };
}

function requireFile(deps: RouteDeps, fileId: string): StoredFile {
  const f = deps.store.get(fileId);
  if (f) return f;
  if (deps.store.isExpired(fileId)) throw fileExpired(fileId);
  throw notFound(`File not found: ${fileId}`, { fileId });
}

/** GET /v1/files in the contract the request asked for. */
export function listFiles(deps: RouteDeps, query: URLSearchParams, contract: Contract): RouteResult {
  return contract === 'ga' ? listFilesGa(deps, query) : listFilesBeta(deps, query);
}

/**
 * GA listing: `limit` + opaque `page` cursor -> `{data, next_page}`, or `ids` (SDK encoding
 * `ids[]=a&ids[]=b`; a plain repeated `ids` is accepted too) -> one page of the visible ones.
 */
function listFilesGa(deps: RouteDeps, query: URLSearchParams): RouteResult {
  for (const beta of ['after_id', 'before_id']) {
    if (query.has(beta))
      throw invalidRequest(`${beta} is a beta parameter: page with "page" and "next_page"`);
  }
  const ids = [...query.getAll('ids[]'), ...query.getAll('ids')];
  if (query.has('ids[]') || query.has('ids')) {
    if (query.has('page') || query.has('limit')) {
      throw invalidRequest('ids is mutually exclusive with page and limit');
    }
    const unique = [...new Set(ids)];
    if (unique.length > IDS_MAX)
      throw invalidRequest(`ids: at most ${IDS_MAX} entries (after de-duplication)`);
    const data: object[] = [];
    for (const id of unique) {
      const f = deps.store.get(id);
      if (f) data.push(apiFile(f));
    }
    return { status: 200, json: { data, next_page: null } };
  }
  const limit = parseLimit(query.get('limit'));
  const token = nonEmpty(query.get('page'));
  const afterId = token === undefined ? undefined : decodePageToken(token);
  const page = listOrCursorError(deps, { limit, ...(afterId !== undefined ? { afterId } : {}) });
  const last = page.data[page.data.length - 1];
  return {
    status: 200,
    json: {
      data: page.data.map(apiFile),
      next_page: page.hasMore && last ? encodePageToken(last.id) : null,
    },
  };
}

/** The repeatCursor fault: the first page of the listing, always pointing at the same next cursor. */
export function listFilesRepeatingCursor(deps: RouteDeps, query: URLSearchParams): RouteResult {
  const page = listOrCursorError(deps, { limit: parseLimit(query.get('limit')) });
  return { status: 200, json: { data: page.data.map(apiFile), next_page: `${PAGE_PREFIX}repeat` } };
}

// Opaque to clients (they must not parse it); inside, the last ID of the page before.
function encodePageToken(lastId: string): string {
  return PAGE_PREFIX + Buffer.from(lastId, 'utf8').toString('base64url');
}

function decodePageToken(token: string): string {
  if (!token.startsWith(PAGE_PREFIX)) throw invalidRequest('page: not a cursor this API handed out');
  return Buffer.from(token.slice(PAGE_PREFIX.length), 'base64url').toString('utf8');
}

function listOrCursorError(deps: RouteDeps, q: Parameters<RouteDeps['store']['list']>[0]) {
  try {
    return deps.store.list(q);
  } catch (err) {
    if (err instanceof UnknownCursorError)
      throw invalidRequest(`unknown cursor: ${String(err.context['fileId'])}`);
    throw err;
  }
}

/** Beta listing: newest first, `after_id`/`before_id` -> `{data, first_id, last_id, has_more}`. */
function listFilesBeta(deps: RouteDeps, query: URLSearchParams): RouteResult {
  const limit = parseLimit(query.get('limit'));
  const afterId = nonEmpty(query.get('after_id'));
  const beforeId = nonEmpty(query.get('before_id'));
  if (afterId !== undefined && beforeId !== undefined) {
    throw invalidRequest('after_id and before_id are mutually exclusive');
  }
  const page = listOrCursorError(deps, {
    limit,
    ...(afterId !== undefined ? { afterId } : {}),
    ...(beforeId !== undefined ? { beforeId } : {}),
  });
  const first = page.data[0];
  const last = page.data[page.data.length - 1];
  return {
    status: 200,
    json: {
      data: page.data.map(apiFile),
      first_id: first?.id ?? null,
      last_id: last?.id ?? null,
      has_more: page.hasMore,
    },
  };
}

function nonEmpty(v: string | null): string | undefined {
  return v === null || v === '' ? undefined : v;
}

function parseLimit(raw: string | null): number {
  if (raw === null) return LIST_DEFAULT_LIMIT;
  if (!/^\d+$/.test(raw)) throw invalidRequest('limit must be an integer between 1 and 1000');
  const n = Number(raw);
  if (n < 1 || n > LIST_MAX_LIMIT) throw invalidRequest('limit must be an integer between 1 and 1000');
  return n;
}

/** GET /v1/files/{id}. */
export function retrieveFile(deps: RouteDeps, fileId: string): RouteResult {
  return { status: 200, json: apiFile(requireFile(deps, fileId)) };
}

/** GET /v1/files/{id}/content: only downloadable files; stored bytes or generated ones. */
export function fileContent(deps: RouteDeps, fileId: string): RouteResult {
  const f = requireFile(deps, fileId);
  if (!f.downloadable) {
    throw new ApiErrorResponse(
      400,
      'invalid_request_error',
      `File ${fileId} is not downloadable`,
      { fileId },
      {},
      'file_not_downloadable',
    );
  }
  const stream = deps.disk?.hasContent(fileId)
    ? deps.disk.readContent(fileId)
    : generatedContent(f.sizeBytes);
  return {
    status: 200,
    stream,
    headers: {
      'content-type': f.mimeType,
      'content-length': String(f.sizeBytes),
      'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(f.filename)}`,
    },
  };
}

/** DELETE /v1/files/{id}. */
export async function deleteFile(deps: RouteDeps, fileId: string): Promise<RouteResult> {
  const f = deps.store.delete(fileId);
  if (!f) {
    if (deps.store.isExpired(fileId)) throw fileExpired(fileId);
    throw notFound(`File not found: ${fileId}`, { fileId });
  }
  if (deps.disk) {
    deps.disk.append({ op: 'delete', id: fileId });
    await deps.disk.removeContent(fileId);
  }
  return { status: 200, json: { id: fileId, type: 'file_deleted' } };
}

/** 405 for a known path with the wrong method. */
export function methodNotAllowed(allow: string[]): ApiErrorResponse {
  return new ApiErrorResponse(
    405,
    'invalid_request_error',
    `Method not allowed; allowed: ${allow.join(', ')}`,
    { allow },
    { allow: allow.join(', ') },
  );
}
