/** Parses and checks `--http` / `http.listen`: "host:port" (loopback, or any host with a bearer token) or "unix:/path". */
import path from 'node:path';
import { isIP } from 'node:net';
import { echoString } from './echo.js';

/** A parsed TCP `http.listen` address. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** Where the endpoint listens: a TCP address or a Unix socket path. */
export type ListenTarget = ({ kind: 'tcp' } & ListenAddress) | { kind: 'unix'; path: string };

/** A problem with an `http.listen` value, phrased for a person. */
export interface ListenProblem {
  message: string;
  fix: string;
}

const EXAMPLE = '"127.0.0.1:9464"';
const UNIX_PREFIX = 'unix:';
/** sun_path holds 108 bytes on Linux, 104 on macOS; the smaller keeps a config portable. */
const MAX_SOCKET_PATH_BYTES = 103;

/** Parses "host:port" / "[::1]:port"; null when the shape is wrong (no loopback check). */
export function parseListenAddress(address: string): ListenAddress | null {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address.trim());
  if (!match) return null;
  const host = match[1] ?? match[2];
  const port = Number(match[3]);
  if (host === undefined || !Number.isInteger(port) || port > 65_535) return null;
  return { host, port };
}

/** Parses "unix:/abs/path" or "host:port"; null when it is neither. */
export function parseListenTarget(value: string): ListenTarget | null {
  if (value.startsWith(UNIX_PREFIX)) {
    const p = value.slice(UNIX_PREFIX.length);
    return path.isAbsolute(p) ? { kind: 'unix', path: p } : null;
  }
  const tcp = parseListenAddress(value);
  return tcp ? { kind: 'tcp', ...tcp } : null;
}

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/**
 * Checks an `http.listen` value. The endpoint shows paths and file IDs, so a TCP address other
 * than loopback is allowed only when `hasToken` (requests must then carry the bearer token).
 */
export function checkListenAddress(address: string, opts: { hasToken?: boolean } = {}): ListenProblem | null {
  if (address.startsWith(UNIX_PREFIX)) {
    const p = address.slice(UNIX_PREFIX.length);
    if (!path.isAbsolute(p) || p.includes('\0'))
      return {
        message: `a Unix socket needs an absolute path; got ${echoString(p)}`,
        fix: 'use e.g. "unix:/run/files-sync/api.sock"',
      };
    if (Buffer.byteLength(p) > MAX_SOCKET_PATH_BYTES)
      return {
        message: `Unix socket path is longer than ${MAX_SOCKET_PATH_BYTES} bytes (the system limit)`,
        fix: 'use a shorter path, e.g. "unix:/run/files-sync/api.sock"',
      };
    return null;
  }
  const parsed = parseListenAddress(address);
  if (!parsed) {
    return {
      message:
        'must be "host:port" (IPv6 as "[::1]:port", port 0-65535) or "unix:/absolute/path" for a Unix socket',
      fix: `use e.g. ${EXAMPLE}`,
    };
  }
  if (!isLoopbackHost(parsed.host) && opts.hasToken !== true) {
    return {
      message: `a non-loopback host needs a bearer token (http.tokenFile or --http-token-file); got host ${echoString(parsed.host)}`,
      fix: `use "127.0.0.1:${parsed.port}" or a Unix socket, or set http.tokenFile to a file holding a token`,
    };
  }
  return null;
}
