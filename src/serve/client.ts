/**
 * A minimal client of the daemon's endpoint (TCP or Unix socket) for the CLI and tests: one GET,
 * HTTP/1.1 over a plain socket. node:http would do the same, but loading it costs a `files-sync id`
 * more than the daemon takes to answer (see cli/id-direct.ts), and the daemon's answers are simple:
 * one JSON body with Content-Length, on a connection closed after it.
 */
import net from 'node:net';
import type { ListenTarget } from '../config/listen.js';

export interface DaemonResponse {
  status: number;
  body: string;
}

export interface DaemonRequestOptions {
  token?: string | undefined;
  /** Gives up (rejects) after this long without a complete answer. */
  timeoutMs?: number | undefined;
  headers?: Record<string, string> | undefined;
}

/** Connection errors that mean "no daemon there" rather than "the daemon failed". */
const NOBODY_THERE = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EADDRNOTAVAIL']);

/** Whether `err` from getFromDaemon means nobody listens there (the caller reads the manifest instead). */
export function isNobodyThere(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && NOBODY_THERE.has(code);
}

/** Where to connect for a listen target (port 0 cannot be reached: the caller gets ECONNREFUSED). */
export function connectOptions(target: ListenTarget): net.NetConnectOpts {
  if (target.kind === 'unix') return { path: target.path };
  const host = target.host === '0.0.0.0' ? '127.0.0.1' : target.host === '::' ? '::1' : target.host;
  return { host, port: target.port };
}

/** What came back from the daemon's address is not a complete HTTP answer. */
export class DaemonResponseError extends Error {
  override readonly name = 'DaemonResponseError';
}

/** GETs `pathAndQuery` from the daemon. */
export function getFromDaemon(
  target: ListenTarget,
  pathAndQuery: string,
  opts: DaemonRequestOptions = {},
): Promise<DaemonResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers['authorization'] = `Bearer ${opts.token}`;
  const host = target.kind === 'unix' ? 'localhost' : hostHeader(target.host, target.port);
  const request =
    `GET ${pathAndQuery} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n` +
    Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('') +
    '\r\n';
  return new Promise((resolve, reject) => {
    const socket = net.connect(connectOptions(target));
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (err: Error | undefined, res?: DaemonResponse) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (err) reject(err);
      else resolve(res!);
    };
    socket.on('connect', () => socket.write(request));
    const tryParse = (ended: boolean) => {
      try {
        const res = parseResponse(Buffer.concat(chunks), ended);
        if (res) finish(undefined, res);
      } catch (err) {
        finish(err as Error);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      tryParse(false);
    });
    socket.on('end', () => tryParse(true));
    socket.on('error', (err) => finish(err));
    socket.on('close', () =>
      finish(new DaemonResponseError('the daemon closed the connection without an answer')),
    );
    if (opts.timeoutMs !== undefined)
      socket.setTimeout(opts.timeoutMs, () =>
        finish(new Error(`no answer from the daemon in ${opts.timeoutMs} ms`)),
      );
  });
}

function hostHeader(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * The response in `bytes` once it is complete (by Content-Length, chunked encoding, or the end of
 * the connection when `ended`); null while more is to come. Throws on a reply that is not HTTP.
 */
function parseResponse(bytes: Buffer, ended: boolean): DaemonResponse | null {
  const headEnd = bytes.indexOf(HEADER_END);
  if (headEnd === -1) {
    if (ended) throw new DaemonResponseError("the daemon's answer is not HTTP (no end of headers)");
    return null;
  }
  const [statusLine = '', ...lines] = bytes.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!m)
    throw new DaemonResponseError(
      `the daemon's answer is not HTTP: ${JSON.stringify(statusLine.slice(0, 40))}`,
    );
  const header = (name: string) =>
    lines
      .find((l) => l.slice(0, name.length + 1).toLowerCase() === `${name}:`)
      ?.slice(name.length + 1)
      .trim();
  const status = Number(m[1]);
  const rest = bytes.subarray(headEnd + HEADER_END.length);
  if (header('transfer-encoding')?.toLowerCase() === 'chunked') {
    const body = unchunk(rest);
    if (body) return { status, body: body.toString('utf8') };
    if (ended) throw new DaemonResponseError("the daemon's answer ended in the middle of a chunk");
    return null;
  }
  const length = header('content-length');
  if (length !== undefined) {
    const n = Number(length);
    if (rest.length >= n) return { status, body: rest.subarray(0, n).toString('utf8') };
    if (ended) throw new DaemonResponseError("the daemon's answer is shorter than its Content-Length");
    return null;
  }
  return ended ? { status, body: rest.toString('utf8') } : null;
}

/** A chunked body decoded, or null when its last chunk has not arrived. */
function unchunk(bytes: Buffer): Buffer | null {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd === -1) return null;
    const size = parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size)) throw new DaemonResponseError("the daemon's chunked answer is malformed");
    if (size === 0) return Buffer.concat(parts);
    const start = lineEnd + 2;
    if (bytes.length < start + size + 2) return null;
    parts.push(bytes.subarray(start, start + size));
    at = start + size + 2;
  }
}

/** One Server-Sent Events message: its `event:` name, `id:` and `data:` (single-line data, as /v1/events sends). */
export interface SseMessage {
  event: string | undefined;
  id: string | undefined;
  data: string | undefined;
}

/** Splits the complete messages off an SSE buffer; `rest` is the incomplete tail to keep. */
export function takeSseMessages(buffer: string): { messages: SseMessage[]; rest: string } {
  const messages: SseMessage[] = [];
  let rest = buffer;
  let i: number;
  while ((i = rest.indexOf('\n\n')) >= 0) {
    const block = rest.slice(0, i);
    rest = rest.slice(i + 2);
    const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(block)?.[1];
    messages.push({ event: field('event'), id: field('id'), data: field('data') });
  }
  return { messages, rest };
}
