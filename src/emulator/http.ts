/** Small HTTP helpers for the emulator: JSON replies, API error bodies, draining request bodies. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiErrorResponse } from './errors.js';

/** The API's error body. */
export function errorBody(type: string, message: string, requestId: string, errorCode?: string): object {
  const error =
    errorCode === undefined ? { type, message } : { type, message, details: { error_code: errorCode } };
  return { type: 'error', error, request_id: requestId };
}

/** Sends a JSON response unless the socket is already gone. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

/** Sends an ApiErrorResponse as the API would. */
export function sendApiError(
  res: ServerResponse,
  err: ApiErrorResponse,
  requestId: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, err.status, errorBody(err.errorType, err.message, requestId, err.errorCode), {
    ...err.headers,
    ...headers,
  });
}

/**
 * Runs `respond` once the request body has been read to its end, so a client still sending an
 * upload gets the answer instead of a reset; runs it at once if the body is already consumed.
 */
export function afterBodyDrained(req: IncomingMessage, respond: () => void): void {
  if (req.readableEnded || req.complete) {
    respond();
    return;
  }
  req.once('end', respond);
  req.once('error', () => undefined);
  req.resume();
}

/** Reads a small JSON body (inspection routes); throws a 400 on bad JSON or one over `limit` bytes. */
export async function readJsonBody(req: IncomingMessage, limit = 64 * 1024): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ApiErrorResponse(413, 'request_too_large', `JSON body over ${limit} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ApiErrorResponse(400, 'invalid_request_error', 'body is not valid JSON');
  }
}
