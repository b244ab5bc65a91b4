import { request } from 'undici';
import type { RunningEmulator } from '../../src/emulator/index.js';

/** The headers every /v1 request needs. */
export const API_HEADERS = {
  'x-api-key': 'sk-test-key-123456',
  'anthropic-version': '2023-06-01',
  'anthropic-beta': 'files-api-2025-04-14',
} as const;

/** The headers of a GA request: no beta header. */
export const GA_HEADERS = {
  'x-api-key': API_HEADERS['x-api-key'],
  'anthropic-version': API_HEADERS['anthropic-version'],
} as const;

/** `call` options for a GA request (spread and add `headers` entries as needed via gaWith). */
export const GA = { noDefaultHeaders: true, headers: { ...GA_HEADERS } } as const;

/** `call` options for a GA request with extra headers (workspace, content-type). */
export function gaWith(headers: Record<string, string>): {
  noDefaultHeaders: true;
  headers: Record<string, string>;
} {
  return { noDefaultHeaders: true, headers: { ...GA_HEADERS, ...headers } };
}

/** A response read to its end. */
export interface ApiResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One request over real HTTP with undici; the body is always consumed. */
export async function call(
  emu: Pick<RunningEmulator, 'url'>,
  method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH',
  path: string,
  options: { headers?: Record<string, string>; body?: Buffer | string; noDefaultHeaders?: boolean } = {},
): Promise<ApiResponse> {
  const headers = { ...(options.noDefaultHeaders ? {} : API_HEADERS), ...options.headers };
  const res = await request(`${emu.url}${path}`, {
    method,
    headers,
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

/** One part of a hand-built multipart body. */
export interface Part {
  name: string;
  filename?: string;
  contentType?: string;
  content: Buffer | string;
}

/** Builds a multipart/form-data body byte by byte, so tests control every detail. */
export function multipart(
  parts: Part[],
  boundary = '----emulator-test-boundary-7MA4YWxkTrZu0gW',
): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"`;
    head += '\r\n';
    if (p.contentType !== undefined) head += `Content-Type: ${p.contentType}\r\n`;
    chunks.push(Buffer.from(`${head}\r\n`), Buffer.from(p.content), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** Uploads one file through POST /v1/files. */
export async function upload(
  emu: Pick<RunningEmulator, 'url'>,
  filename: string,
  content: Buffer | string,
  contentType?: string,
): Promise<ApiResponse> {
  const { body, contentType: ct } = multipart([
    { name: 'file', filename, content, ...(contentType !== undefined ? { contentType } : {}) },
  ]);
  return call(emu, 'POST', '/v1/files', { headers: { 'content-type': ct }, body });
}

/** Seeds `n` files quickly (oldest first) and returns their IDs newest first. */
export function seed(emu: RunningEmulator, n: number): string[] {
  const idsOldestFirst: string[] = [];
  for (let i = 0; i < n; i++)
    idsOldestFirst.push(emu.addFile({ filename: `seed-${i}.txt`, sizeBytes: i }).id);
  return idsOldestFirst.reverse();
}
