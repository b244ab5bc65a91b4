/** The daemon's optional loopback endpoint: /healthz, /status (JSON), /metrics (Prometheus text), POST /v1/release-deletes. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { healthOf, type DaemonStatus } from './status.js';
import { checkListenAddress, parseListenAddress } from './config/listen.js';
import { FilesSyncError } from './errors.js';
import { handleControlRequest, type ControlActions } from './control.js';

/** The status endpoint was asked to listen somewhere it must not (or on something that is no address). */
export class StatusServerAddressError extends FilesSyncError {}

export interface StatusServer {
  url: string;
  close(): Promise<void>;
}

/** Starts the status server on a loopback address. */
export async function startStatusServer(
  listen: string,
  getStatus: () => DaemonStatus,
  registry: Registry,
  control?: ControlActions,
): Promise<StatusServer> {
  // The endpoint has no authentication and shows paths and errors: loopback only, whatever asked for it.
  const problem = checkListenAddress(listen);
  const address = parseListenAddress(listen);
  if (problem || !address)
    throw new StatusServerAddressError(
      `--http/http.listen ${JSON.stringify(listen)}: ${problem?.message ?? 'not host:port'}. Fix: ${problem?.fix ?? 'use e.g. 127.0.0.1:9464'}`,
      { listen },
    );
  const { host, port } = address;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (control && url.pathname.startsWith('/v1/'))
      return void handleControlRequest(req, url.pathname, control, send);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
    if (url.pathname === '/healthz') {
      const health = healthOf(getStatus());
      return send(health.ok ? 200 : 503, 'application/json', `${JSON.stringify(health)}\n`);
    }
    if (url.pathname === '/status')
      return send(200, 'application/json', `${JSON.stringify(getStatus(), null, 2)}\n`);
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
