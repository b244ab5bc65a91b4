/**
 * The daemon's local HTTP endpoint: /healthz, /status (JSON), /metrics (Prometheus text), the
 * consumer API under /v1/ (src/serve) and POST /v1/release-deletes (src/control.ts). TCP
 * (loopback, or any host with a bearer token) or a Unix socket.
 */
import http from 'node:http';
import { chmod, lstat, unlink } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { healthOf, type DaemonStatus } from './status.js';
import { checkListenAddress, parseListenTarget, type ListenTarget } from './config/listen.js';
import { FilesSyncError, errorCode } from './errors.js';
import { handleControlRequest, type ControlActions } from './control.js';
import type { ApiRoutes } from './serve/hub.js';
import { bearerMatches } from './serve/token.js';
import { sendError } from './serve/http-util.js';

/** The status endpoint was asked to listen somewhere it must not (or on something that is no address). */
export class StatusServerAddressError extends FilesSyncError {}

export interface StatusServer {
  /** `http://host:port`, or `unix:/path` for a socket. */
  url: string;
  close(): Promise<void>;
}

export interface StatusServerOptions {
  /** The /v1/ routes; without them /v1/ answers 404. */
  api?: ApiRoutes | undefined;
  /** Bearer token every request but /healthz must carry; required for a non-loopback TCP host. */
  token?: string | undefined;
  /** POST /v1/release-deletes, guarded by its own token (control.json in the state dir). */
  control?: ControlActions | undefined;
}

/** Unix socket mode: the owner and its group (the consumers' group) may connect, nobody else. */
const SOCKET_MODE = 0o660;

/** Starts the endpoint on a loopback address, a tokened TCP address or a Unix socket. */
export async function startStatusServer(
  listen: string,
  getStatus: () => DaemonStatus,
  registry: Registry,
  options: StatusServerOptions = {},
): Promise<StatusServer> {
  // The endpoint shows paths, errors and file IDs: loopback or a socket, or a token, whatever asked for it.
  const problem = checkListenAddress(listen, { hasToken: options.token !== undefined });
  const target = parseListenTarget(listen);
  if (problem || !target)
    throw new StatusServerAddressError(
      `--http/http.listen ${JSON.stringify(listen)}: ${problem?.message ?? 'not host:port'}. Fix: ${problem?.fix ?? 'use e.g. 127.0.0.1:9464'}`,
      { listen },
    );
  const { api, token } = options;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (options.control && url.pathname === '/v1/release-deletes')
      return void handleControlRequest(req, url.pathname, options.control, send);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
    if (
      token !== undefined &&
      url.pathname !== '/healthz' &&
      !bearerMatches(req.headers.authorization, token)
    ) {
      res.setHeader('www-authenticate', 'Bearer');
      return sendError(
        res,
        401,
        'missing or wrong bearer token',
        "send 'Authorization: Bearer TOKEN' (the token in http.tokenFile)",
      );
    }
    try {
      if (api?.handle(req, res, url)) return;
    } catch (err) {
      // A bug in one route answers 500; the daemon keeps syncing.
      return sendError(res, 500, `internal error: ${(err as Error).message}`);
    }
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
    send(404, 'text/plain', 'not found (try /healthz, /status, /metrics, /v1/lookup, /v1/events)\n');
  });
  const url = await listenOn(server, target);
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function listenOn(server: http.Server, target: ListenTarget): Promise<string> {
  const listen = (arg: string | { port: number; host: string }) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const done = () => {
        server.off('error', reject);
        resolve();
      };
      if (typeof arg === 'string') server.listen(arg, done);
      else server.listen(arg.port, arg.host, done);
    });
  if (target.kind === 'tcp') {
    await listen({ port: target.port, host: target.host });
    const addr = server.address() as AddressInfo;
    const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${shownHost}:${addr.port}`;
  }
  await removeStaleSocket(target.path);
  await listen(target.path);
  await chmod(target.path, SOCKET_MODE);
  return `unix:${target.path}`;
}

/**
 * A socket file left by a daemon that died is in the way of listen(). It is removed only when it
 * is a socket nobody answers on; anything else at that path is not ours and stays (EADDRINUSE).
 */
async function removeStaleSocket(file: string): Promise<void> {
  const st = await lstat(file).catch((err: unknown) => {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  });
  if (!st?.isSocket()) return;
  const alive = await new Promise<boolean>((resolve) => {
    const s = net.connect(file);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (!alive) await unlink(file).catch(() => undefined);
}
