import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ApiErrorResponse, invalidRequest } from './errors.js';

/** The beta the Files API's beta contract requires. */
export const FILES_API_BETA = 'files-api-2025-04-14';

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * The key a request presents: `x-api-key`, else an `Authorization: Bearer` token (what
 * @anthropic-ai/sdk 1.x sends for an API key).
 */
function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const key = single(headers['x-api-key']);
  if (key) return key;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  return m?.[1];
}

/**
 * Checks the headers every /v1 request needs, in the API's order: key (401), then version and
 * beta (400). `expectedKey` undefined accepts any non-empty key. The key is never echoed.
 */
export function checkApiHeaders(
  headers: IncomingHttpHeaders,
  expectedKey: string | undefined,
): ApiErrorResponse | null {
  const key = presentedKey(headers);
  if (!key) return new ApiErrorResponse(401, 'authentication_error', 'x-api-key header is required');
  // Compare digests so the comparison takes the same time whatever the key's length.
  if (expectedKey !== undefined && !timingSafeEqual(digest(key), digest(expectedKey))) {
    return new ApiErrorResponse(401, 'authentication_error', 'invalid x-api-key');
  }
  if (!single(headers['anthropic-version'])) return invalidRequest('anthropic-version header is required');
  const betas = (single(headers['anthropic-beta']) ?? '').split(',').map((s) => s.trim());
  if (!betas.includes(FILES_API_BETA)) {
    return invalidRequest(`the Files API requires the anthropic-beta header to include ${FILES_API_BETA}`);
  }
  return null;
}
