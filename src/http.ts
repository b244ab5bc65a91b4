/** The daemon's optional loopback endpoint: /healthz, /status (JSON) and /metrics (Prometheus text). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { DaemonStatus } from './status.js';

export interface StatusServer {
  url: string;
  close(): Promise<void>;
}

/** Parses "127.0.0.1:9464" / "[::1]:9464" / "localhost:9464" into host and port. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(listen.trim());
  if (!m) throw new Error(`invalid listen address "${listen}" (expected host:port, e.g. 127.0.0.1:9464)`);
  return { host: m[1]!, port: Number(m[2]) };
}

/** Starts the status server on a loopback address. */
export async function startStatusServer(listen: string, getStatus: () => DaemonStatus, registry: Registry): Promise<StatusServer> {
  const { host, port } = parseListen(listen);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
    if (url.pathname === '/healthz') {
      const s = getStatus();
      const bad = s.folders.filter((f) => f.mode === 'unavailable' || f.mode === 'stopped');
      return send(bad.length === 0 ? 200 : 503, 'application/json', `${JSON.stringify({ ok: bad.length === 0, unavailable: bad.map((f) => f.name) })}\n`);
    }
    if (url.pathname === '/status') return send(200, 'application/json', `${JSON.stringify(getStatus(), null, 2)}\n`);
    if (url.pathname === '/metrics') {
      registry.metrics().then(
        (text) => send(200, registry.contentType, text),
        (err: Error) => send(500, 'text/plain', `${err.message}\n`),
      );
      return;
    }
    send(404, 'text/plain', 'not found (try /healthz, /status, /metrics)\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shownHost}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
