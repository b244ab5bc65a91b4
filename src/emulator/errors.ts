import { FilesSyncError } from '../errors.js';

/** Base of the emulator's own errors. */
export class EmulatorError extends FilesSyncError {}

/** An error the emulator answers over HTTP with the API's error body. */
export class ApiErrorResponse extends EmulatorError {
  readonly status: number;
  readonly errorType: string;
  /** Extra response headers (retry-after, allow). */
  readonly headers: Record<string, string>;
  constructor(
    status: number,
    errorType: string,
    message: string,
    context: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ) {
    super(message, { ...context, status, errorType });
    this.status = status;
    this.errorType = errorType;
    this.headers = headers;
  }
}

/** The multipart body could not be parsed. */
export class MultipartError extends EmulatorError {}

/** A list cursor (after_id / before_id) that the emulator never handed out. */
export class UnknownCursorError extends EmulatorError {}

/** addFile was asked to create an ID that already exists. */
export class DuplicateFileIdError extends EmulatorError {}

/** Shorthand for a 400 invalid_request_error. */
export function invalidRequest(message: string, context: Record<string, unknown> = {}): ApiErrorResponse {
  return new ApiErrorResponse(400, 'invalid_request_error', message, context);
}

/** Shorthand for a 404 not_found_error. */
export function notFound(message: string, context: Record<string, unknown> = {}): ApiErrorResponse {
  return new ApiErrorResponse(404, 'not_found_error', message, context);
}
