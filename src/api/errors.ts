/** Typed API errors carrying status, type, error code, request id and route. */
import { FilesSyncError } from '../errors.js';

/**
 * Typed errors of the Files API client. They are built from the status, the error body and a few
 * retry headers only: never from request options, so the API key cannot leak into a message,
 * a stack or a serialised `context`.
 */

/** Which family of API failure an ApiError is; lets callers branch without instanceof chains. */
export type ApiErrorKind =
  | 'bad_request'
  | 'authentication'
  | 'billing'
  | 'permission'
  | 'not_found'
  | 'conflict'
  | 'request_timeout'
  | 'request_too_large'
  | 'rate_limit'
  | 'storage_quota'
  | 'server'
  | 'overloaded'
  | 'other';

/** The response headers the retry policy needs; everything else is dropped. */
export interface RetryHeaders {
  'retry-after'?: string;
  'retry-after-ms'?: string;
  'x-should-retry'?: string;
}

export interface ApiErrorDetails {
  status: number;
  method: string;
  /** Path without query string, e.g. /v1/files/file_abc. */
  route: string;
  errorType?: string | undefined;
  /** GA `error.details.error_code` (storage_quota_exceeded, file_expired, file_not_downloadable, ...). */
  errorCode?: string | undefined;
  requestId?: string | undefined;
  retryHeaders?: RetryHeaders | undefined;
}

/** A non-2xx answer from the Files API. */
export class ApiError extends FilesSyncError {
  readonly kind: ApiErrorKind = 'other';
  readonly status: number;
  readonly errorType: string | undefined;
  readonly errorCode: string | undefined;
  readonly requestId: string | undefined;
  readonly method: string;
  readonly route: string;
  readonly retryHeaders: RetryHeaders;

  constructor(message: string, details: ApiErrorDetails) {
    super(message, {
      status: details.status,
      errorType: details.errorType,
      errorCode: details.errorCode,
      requestId: details.requestId,
      method: details.method,
      route: details.route,
    });
    this.status = details.status;
    this.errorType = details.errorType;
    this.errorCode = details.errorCode;
    this.requestId = details.requestId;
    this.method = details.method;
    this.route = details.route;
    this.retryHeaders = details.retryHeaders ?? {};
  }
}

/** 400 invalid_request_error (bad filename, non-downloadable file, bad cursor, ...). */
export class BadRequestError extends ApiError {
  override readonly kind = 'bad_request' as const;
}
/** 400 `file_not_downloadable`: only files made by tools can be downloaded. */
export class FileNotDownloadableError extends BadRequestError {}
/**
 * 400 `storage_quota_exceeded`: the organisation's file storage is full. Never retried (another
 * attempt cannot succeed until files are deleted); callers pause uploads and say so.
 */
export class StorageQuotaError extends ApiError {
  override readonly kind = 'storage_quota' as const;
}
/** 401 authentication_error: missing or invalid API key. */
export class AuthenticationError extends ApiError {
  override readonly kind = 'authentication' as const;
}
/** 402 billing_error. */
export class BillingError extends ApiError {
  override readonly kind = 'billing' as const;
}
/** 403 permission_error. */
export class PermissionDeniedError extends ApiError {
  override readonly kind = 'permission' as const;
}
/** 404 not_found_error. */
export class NotFoundError extends ApiError {
  override readonly kind = 'not_found' as const;
}
/** 404 `file_expired`: the file's expires_at passed; a NotFoundError, so "gone" handling covers it. */
export class FileExpiredError extends NotFoundError {}
/** 408 from the server. */
export class ServerRequestTimeoutError extends ApiError {
  override readonly kind = 'request_timeout' as const;
}
/** 409 conflict. */
export class ConflictError extends ApiError {
  override readonly kind = 'conflict' as const;
}
/** 413 request_too_large (body may not be JSON). */
export class RequestTooLargeError extends ApiError {
  override readonly kind = 'request_too_large' as const;
}
/** 429 rate_limit_error. */
export class RateLimitError extends ApiError {
  override readonly kind = 'rate_limit' as const;
}
/** Any 5xx other than 529. */
export class InternalServerError extends ApiError {
  override readonly kind = 'server' as const;
}
/** 529 overloaded_error. */
export class OverloadedError extends ApiError {
  override readonly kind = 'overloaded' as const;
}

/** Builds the ApiError subclass that matches an HTTP status. */
export function apiErrorFor(message: string, details: ApiErrorDetails): ApiError {
  const s = details.status;
  if (s === 400 && details.errorCode === 'storage_quota_exceeded')
    return new StorageQuotaError(message, details);
  if (s === 400 && details.errorCode === 'file_not_downloadable')
    return new FileNotDownloadableError(message, details);
  if (s === 404 && details.errorCode === 'file_expired') return new FileExpiredError(message, details);
  if (s === 400) return new BadRequestError(message, details);
  if (s === 401) return new AuthenticationError(message, details);
  if (s === 402) return new BillingError(message, details);
  if (s === 403) return new PermissionDeniedError(message, details);
  if (s === 404) return new NotFoundError(message, details);
  if (s === 408) return new ServerRequestTimeoutError(message, details);
  if (s === 409) return new ConflictError(message, details);
  if (s === 413) return new RequestTooLargeError(message, details);
  if (s === 429) return new RateLimitError(message, details);
  if (s === 529) return new OverloadedError(message, details);
  if (s >= 500) return new InternalServerError(message, details);
  return new ApiError(message, details);
}

export interface ConnectionErrorDetails {
  method: string;
  route: string;
  /** Low-level code, e.g. ECONNRESET, UND_ERR_SOCKET, UND_ERR_CONNECT_TIMEOUT. */
  code: string;
}

/** The request never got an HTTP answer (refused, reset, socket closed, DNS, ...). */
export class ConnectionError extends FilesSyncError {
  readonly code: string;
  readonly method: string;
  readonly route: string;
  constructor(message: string, details: ConnectionErrorDetails, options?: { cause?: unknown }) {
    super(message, { code: details.code, method: details.method, route: details.route }, options);
    this.code = details.code;
    this.method = details.method;
    this.route = details.route;
  }
}

/** The request took longer than the client's time limit (connect, headers or the whole call). */
export class RequestTimeoutError extends ConnectionError {}

/**
 * Upload request sent, no answer, and the follow-up lookup failed: the file may or may not exist.
 * The caller keeps a pending intent and resolves it at reconciliation.
 */
export class UploadOutcomeUnknownError extends FilesSyncError {}

/** The file changed (size or mtime) after it was opened for upload; re-queue it, never retry blindly. */
export class SourceChangedError extends FilesSyncError {}

/** A stream source was already (partly) consumed and cannot be sent again. */
export class SourceNotRetryableError extends FilesSyncError {}

/** A list page repeated a cursor we already followed: paging would never end. */
export class PaginationLoopError extends FilesSyncError {}

/** The server answered 2xx with a body that is not what the API documents. */
export class UnexpectedResponseError extends FilesSyncError {}

/**
 * A 2xx answer that does not match the contract this client speaks (e.g. a beta-shaped listing
 * where GA was expected, or a missing field); `field` names the first offending field.
 */
export class ContractMismatchError extends UnexpectedResponseError {
  readonly field: string;
  readonly contract: string;
  constructor(message: string, context: { method: string; route: string; field: string; contract: string }) {
    super(message, context);
    this.field = context.field;
    this.contract = context.contract;
  }
}

/** A caller passed an option the API would refuse (e.g. expiresInSeconds out of range); nothing was sent. */
export class InvalidRequestOptionError extends FilesSyncError {}

/** A required environment variable (the API key) is missing. */
export class MissingApiKeyError extends FilesSyncError {}

/** Connection codes that mean the request certainly never reached the server. */
export const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);

/** True when a failed request certainly did not reach the server (safe to re-send a POST). */
export function certainlyNotSent(error: unknown): boolean {
  return error instanceof ConnectionError && NOT_SENT_CODES.has(error.code);
}

/** True for an abort caused by the caller's AbortSignal (passed through untouched). */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/** A short, key-free description of an error for logs and retry callbacks. */
export function summarizeError(error: unknown): string {
  if (error instanceof ApiError)
    return `${error.status} ${error.errorType ?? error.kind}${error.errorCode ? ` ${error.errorCode}` : ''}`;
  if (error instanceof RequestTimeoutError) return `timeout ${error.code}`;
  if (error instanceof ConnectionError) return error.code;
  if (error instanceof Error) return error.name;
  return 'unknown';
}
