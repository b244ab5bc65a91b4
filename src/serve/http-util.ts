/** Small helpers shared by the API routes: JSON answers and errors in one shape. */
import type { ServerResponse } from 'node:http';
import { ApiRequestError } from './query.js';
import { errorMessage } from '../errors.js';

/** Writes a JSON answer (no caching: every answer is about "now"). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(`${JSON.stringify(body)}\n`);
}

/** The error shape every route answers with: `{error, fix?, ...details}`. */
export function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  fix?: string,
  details: Record<string, unknown> = {},
): void {
  sendJson(res, status, { error: message, ...(fix !== undefined ? { fix } : {}), ...details });
}

/** Answers a thrown error: an ApiRequestError with its status, anything else as 500 (the daemon goes on). */
export function sendThrown(res: ServerResponse, err: unknown): void {
  if (err instanceof ApiRequestError) sendError(res, err.status, err.message, err.fix);
  else sendError(res, 500, `internal error: ${errorMessage(err)}`);
}
