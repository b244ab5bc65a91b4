/**
 * The fast path of `files-sync id PATH`: asks the running daemon by absolute path without loading
 * the config schema or the rest of the CLI (commander, zod, pino, undici cost several times what
 * the answer does). The address is --http, or http.listen read straight from the config file
 * (the daemon checked that config when it started). Anything it does not handle plainly (another
 * flag, no endpoint configured, no daemon answering) goes to the full command, which validates
 * the config and, if need be, reads the manifest.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseListenTarget, type ListenTarget } from '../config/listen.js';
import { getFromDaemon } from '../serve/client.js';
import { displayPath } from '../local/display-name.js';

interface DirectArgs {
  target: string;
  http?: string | undefined;
  config?: string | undefined;
  tokenFile?: string | undefined;
  block: boolean;
  json: boolean;
  wait?: number | undefined;
}

/** The flags with a value the fast path reads, and where each goes. */
const VALUE_FLAGS = {
  '--http': 'http',
  '--http-token-file': 'tokenFile',
  '-c': 'config',
  '--config': 'config',
} as const;

/** Parses exactly `id PATH [--http A | -c F] [--http-token-file F] [--block|--json] [--wait S]`; undefined for anything else. */
function parseDirect(args: readonly string[]): DirectArgs | undefined {
  if (args[0] !== 'id') return undefined;
  const out: { [K in keyof DirectArgs]?: DirectArgs[K] | undefined } & { block: boolean; json: boolean } = {
    block: false,
    json: false,
  };
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!;
    const [flag, inline] =
      a.startsWith('--') && a.includes('=')
        ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
        : [a, undefined];
    const value = () => inline ?? args[++i];
    if (Object.hasOwn(VALUE_FLAGS, flag)) {
      const v = value();
      // A flag without its value (or a repeated one) is the full command's usage error to report.
      const key = VALUE_FLAGS[flag as keyof typeof VALUE_FLAGS];
      if (v === undefined || v === '' || out[key] !== undefined) return undefined;
      out[key] = v;
    } else if (flag === '--block' && inline === undefined) out.block = true;
    else if (flag === '--json' && inline === undefined) out.json = true;
    else if (flag === '--wait') {
      const v = value();
      if (v === undefined || !/^\d+$/.test(v) || Number(v) > 300) return undefined;
      out.wait = Number(v);
    } else if (!a.startsWith('-') && out.target === undefined) out.target = a;
    else return undefined;
  }
  if (out.target === undefined) return undefined;
  return { ...out, target: out.target };
}

/**
 * The daemon's address and token file: --http (with --http-token-file), else the config file's
 * http.listen and http.tokenFile. Null when there is none to ask (the full command decides).
 */
async function endpointOf(a: DirectArgs): Promise<{ target: ListenTarget; tokenFile?: string } | null> {
  const tokenFlag = a.tokenFile !== undefined ? path.resolve(a.tokenFile) : undefined;
  if (a.http !== undefined) {
    const target = parseListenTarget(a.http);
    return target ? { target, ...(tokenFlag !== undefined ? { tokenFile: tokenFlag } : {}) } : null;
  }
  // Loaded only on this branch (and the token reader only with a token): every module costs start-up time.
  const [{ resolveConfigPath }, { resolveAgainst }] = await Promise.all([
    import('../config/config-path.js'),
    import('../config/paths.js'),
  ]);
  let configPath: string;
  let raw: unknown;
  try {
    configPath = resolveConfigPath(a.config);
    const text = await readFile(configPath, 'utf8');
    raw = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    return null;
  }
  const http = (raw as { http?: { listen?: unknown; tokenFile?: unknown } } | null)?.http;
  if (typeof http?.listen !== 'string') return null;
  const target = parseListenTarget(http.listen);
  // Port 0 is "any free port": nobody can be reached there from outside the daemon.
  if (!target || (target.kind === 'tcp' && target.port === 0)) return null;
  if (http.tokenFile !== undefined && http.tokenFile !== null && typeof http.tokenFile !== 'string')
    return null;
  const tokenFile =
    tokenFlag ??
    (typeof http.tokenFile === 'string'
      ? resolveAgainst(http.tokenFile, path.dirname(configPath), process.env)
      : undefined);
  return { target, ...(tokenFile !== undefined ? { tokenFile } : {}) };
}

/** Runs the fast path; the exit code, or undefined when the full command must handle it. */
export async function tryDirectId(args: readonly string[]): Promise<number | undefined> {
  const a = parseDirect(args);
  const endpoint = a ? await endpointOf(a) : null;
  if (!a || !endpoint) return undefined;
  const { target, tokenFile } = endpoint;
  const token =
    tokenFile !== undefined
      ? await import('../serve/token.js').then(({ readBearerToken }) =>
          readBearerToken(tokenFile).catch(() => undefined),
        )
      : undefined;
  if (tokenFile !== undefined && token === undefined) return undefined;
  const abs = path.resolve(process.cwd(), a.target);
  const query = `/v1/lookup?path=${encodeURIComponent(abs)}${a.wait ? `&wait=${a.wait}` : ''}`;
  let res;
  try {
    res = await getFromDaemon(target, query, { token, timeoutMs: 2_000 + (a.wait ?? 0) * 1000 });
  } catch {
    return undefined;
  }
  let body: Record<string, unknown> & { fileId?: string; block?: unknown };
  try {
    body = JSON.parse(res.body) as typeof body;
  } catch {
    // Not our daemon's answer (something else listens there): the full command decides.
    return undefined;
  }
  if (res.status === 200) {
    const text = a.json
      ? JSON.stringify(body, null, 2)
      : a.block
        ? JSON.stringify(body.block)
        : String(body.fileId);
    process.stdout.write(`${text}\n`);
    return 0;
  }
  if (res.status === 408) {
    process.stderr.write(
      `files-sync: ${displayPath(abs)} is still ${String(body.state)} after ${a.wait} s\n`,
    );
    return 75;
  }
  if (res.status === 404 || res.status === 400) {
    const why =
      body.state === 'pending'
        ? ' (an upload is pending)'
        : body.state === 'failed'
          ? ` (failed: ${typeof body.reason === 'string' ? body.reason : 'unknown'})`
          : '';
    process.stderr.write(`files-sync: ${displayPath(abs)}: ${displayPath(String(body.error))}${why}\n`);
    return 1;
  }
  return undefined;
}
