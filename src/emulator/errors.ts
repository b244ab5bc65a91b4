/** Emulator errors and the API error bodies they become. */
import { FilesSyncError } from '../errors.js';

/** Base of the emulator's own errors. */
export class EmulatorError extends FilesSyncError {}

/** An error the emulator answers over HTTP with the API's error body. */
export class ApiErrorResponse extends EmulatorError {
  readonly status: number;
  readonly errorType: string;
  /** Extra response headers (retry-after, allow). */
  readonly headers: Record<string, string>;
  /** GA `error.details.error_code` (storage_quota_exceeded, file_expired, ...), when the API sends one. */
  readonly errorCode: string | undefined;
  constructor(
    status: number,
    errorType: string,
    message: string,
    context: Record<string, unknown> = {},
    headers: Record<string, string> = {},
    errorCode?: string,
  ) {
    super(message, { ...context, status, errorType });
    this.status = status;
    this.errorType = errorType;
    this.headers = headers;
    this.errorCode = errorCode;
  }
}

/** The multipart body could not be parsed. */
export class MultipartError extends EmulatorError {}

/** A list cursor (after_id / before_id / page) that the emulator never handed out. */
export class UnknownCursorError extends EmulatorError {}

/** addFile was asked to create an ID that already exists. */
export class DuplicateFileIdError extends EmulatorError {}

/** Shorthand for a 400 invalid_request_error. */
export function invalidRequest(message: string, context: Record<string, unknown> = {}): ApiErrorResponse {
  return new ApiErrorResponse(400, 'invalid_request_error', message, context);
}

/** 404 with `file_expired`: the file's expires_at has passed. */
export function fileExpired(fileId: string): ApiErrorResponse {
  return new ApiErrorResponse(
    404,
    'not_found_error',
    `File ${fileId} has expired`,
    { fileId },
    {},
    'file_expired',
  );
}

/** Shorthand for a 404 not_found_error. */
export function notFound(message: string, context: Record<string, unknown> = {}): ApiErrorResponse {
  return new ApiErrorResponse(404, 'not_found_error', message, context);
}
