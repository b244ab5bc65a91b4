/** A minimal client of the daemon's endpoint (TCP or Unix socket) for the CLI and tests. */
import http from 'node:http';
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

/** Where to connect for a listen target (port 0 cannot be reached: the caller gets ECONNREFUSED). */
export function connectOptions(target: ListenTarget): http.RequestOptions {
  if (target.kind === 'unix') return { socketPath: target.path };
  const host = target.host === '0.0.0.0' ? '127.0.0.1' : target.host === '::' ? '::1' : target.host;
  return { host, port: target.port };
}

/** GETs `pathAndQuery` from the daemon. */
export function getFromDaemon(
  target: ListenTarget,
  pathAndQuery: string,
  opts: DaemonRequestOptions = {},
): Promise<DaemonResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    const req = http.request(
      { ...connectOptions(target), path: pathAndQuery, method: 'GET', headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (opts.timeoutMs !== undefined)
      req.setTimeout(opts.timeoutMs, () =>
        req.destroy(new Error(`no answer from the daemon in ${opts.timeoutMs} ms`)),
      );
    req.end();
  });
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
