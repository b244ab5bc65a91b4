/** Emulator request checks: API key, anthropic-version, beta header and workspace scope. */
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

/** Which response shapes a request gets: GA unless it sends the files beta. */
export type Contract = 'ga' | 'beta';

/** The workspace every file lives in when the emulator is not told about workspaces. */
export const DEFAULT_WORKSPACE = 'wrkspc_default';

/** What the header check found: the contract to answer in and the workspace to act on. */
export interface RequestScope {
  contract: Contract;
  workspaceId: string;
}

/** How the emulator's one key relates to workspaces, and whether the beta contract is still served. */
export interface AccessPolicy {
  /** undefined accepts any non-empty key. */
  expectedKey: string | undefined;
  /** One entry: the key is bound to it. Several: the key spans them and must name one per request. */
  workspaces: readonly string[];
  /** Refuse the files beta header (the beta contract retired). */
  gaOnly: boolean;
}

/**
 * Checks the headers every /v1 request needs, in the API's order: key (401), version (400), then
 * the beta header (GA-only mode: 400) and the workspace (400 missing, 403 not the key's). The key
 * is never echoed.
 */
export function checkApiHeaders(
  headers: IncomingHttpHeaders,
  policy: AccessPolicy,
): ApiErrorResponse | RequestScope {
  const key = presentedKey(headers);
  if (!key) return new ApiErrorResponse(401, 'authentication_error', 'x-api-key header is required');
  // Compare digests so the comparison takes the same time whatever the key's length.
  if (policy.expectedKey !== undefined && !timingSafeEqual(digest(key), digest(policy.expectedKey))) {
    return new ApiErrorResponse(401, 'authentication_error', 'invalid x-api-key');
  }
  if (!single(headers['anthropic-version'])) return invalidRequest('anthropic-version header is required');
  const betas = (single(headers['anthropic-beta']) ?? '').split(',').map((s) => s.trim());
  const contract: Contract = betas.includes(FILES_API_BETA) ? 'beta' : 'ga';
  if (contract === 'beta' && policy.gaOnly) {
    return invalidRequest(
      `anthropic-beta ${FILES_API_BETA} is no longer supported: the Files API is generally available, send no beta header`,
    );
  }
  const workspace = resolveWorkspace(single(headers['anthropic-workspace-id'])?.trim(), policy.workspaces);
  if (workspace instanceof ApiErrorResponse) return workspace;
  return { contract, workspaceId: workspace };
}

function resolveWorkspace(
  requested: string | undefined,
  workspaces: readonly string[],
): string | ApiErrorResponse {
  const bound = workspaces.length === 1 ? workspaces[0] : undefined;
  if (requested === undefined || requested === '') {
    if (bound !== undefined) return bound;
    return invalidRequest(
      'anthropic-workspace-id header is required: this key can act on several workspaces',
    );
  }
  if (workspaces.includes(requested)) return requested;
  // The SDK documents no status or error_code for this; 403 permission_error is our choice.
  return new ApiErrorResponse(
    403,
    'permission_error',
    bound !== undefined
      ? 'anthropic-workspace-id does not match the workspace of this API key'
      : 'this API key cannot act on the workspace named by anthropic-workspace-id',
    { workspaceId: requested },
  );
}
