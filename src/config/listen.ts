/** Parses and checks the `--http` / `http.listen` address of the daemon's status server. */
import { isIP } from 'node:net';
import { echoString } from './echo.js';

/** A parsed `http.listen` address. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** A problem with an `http.listen` value, phrased for a person. */
export interface ListenProblem {
  message: string;
  fix: string;
}

const EXAMPLE = '"127.0.0.1:9464"';

/** Parses "host:port" / "[::1]:port"; null when the shape is wrong (no loopback check). */
export function parseListenAddress(address: string): ListenAddress | null {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address.trim());
  if (!match) return null;
  const host = match[1] ?? match[2];
  const port = Number(match[3]);
  if (host === undefined || !Number.isInteger(port) || port > 65_535) return null;
  return { host, port };
}

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/** Checks an `http.listen` value; the endpoint has no authentication, so only loopback is allowed. */
export function checkListenAddress(address: string): ListenProblem | null {
  const parsed = parseListenAddress(address);
  if (!parsed) {
    return {
      message: 'must be "host:port" (IPv6 as "[::1]:port", port 0-65535)',
      fix: `use e.g. ${EXAMPLE}`,
    };
  }
  if (!isLoopbackHost(parsed.host)) {
    return {
      message: `only loopback hosts are allowed (the endpoint has no authentication); got host ${echoString(parsed.host)}`,
      fix: `use "127.0.0.1:${parsed.port}", "[::1]:${parsed.port}" or "localhost:${parsed.port}"`,
    };
  }
  return null;
}
