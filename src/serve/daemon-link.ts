/**
 * How a command reaches the running daemon's API: the configured http.listen (TCP or socket) and
 * http.tokenFile. Undefined when there is no endpoint or nobody answers, so the caller can fall
 * back to reading the manifest itself.
 */
import type { Config } from '../config/schema.js';
import { parseListenTarget } from '../config/listen.js';
import { getFromDaemon, isNobodyThere, type DaemonResponse } from './client.js';
import { readBearerToken } from './token.js';

export async function askDaemon(
  config: Pick<Config, 'http'>,
  pathAndQuery: string,
  timeoutMs: number,
): Promise<DaemonResponse | undefined> {
  const listen = config.http.listen;
  const target = listen ? parseListenTarget(listen) : null;
  // Port 0 is "any free port": nobody can be reached there from outside the daemon.
  if (!target || (target.kind === 'tcp' && target.port === 0)) return undefined;
  let token: string | undefined;
  if (config.http.tokenFile) {
    token = await readBearerToken(config.http.tokenFile).catch(() => undefined);
    if (token === undefined) return undefined;
  }
  try {
    const res = await getFromDaemon(target, pathAndQuery, { token, timeoutMs });
    // 401: not our token (a different daemon, or a rotated token): the manifest still answers.
    return res.status === 401 ? undefined : res;
  } catch (err) {
    if (isNobodyThere(err)) return undefined;
    throw err;
  }
}
