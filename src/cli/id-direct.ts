/**
 * The fast path of `files-sync id PATH --http ADDRESS`: asks the daemon by absolute path without
 * loading the configuration or the rest of the CLI (loading them costs several times what the
 * answer does). Anything it does not handle plainly (another flag, no daemon answering) goes to
 * the full command, which reads the config and, if need be, the manifest.
 */
import path from 'node:path';
import { parseListenTarget } from '../config/listen.js';
import { getFromDaemon } from '../serve/client.js';
import { readBearerToken } from '../serve/token.js';
import { displayPath } from '../local/display-name.js';

interface DirectArgs {
  target: string;
  http: string;
  tokenFile?: string | undefined;
  block: boolean;
  json: boolean;
  wait?: number | undefined;
}

/** Parses exactly `id PATH --http A [--http-token-file F] [--block|--json] [--wait S]`; undefined for anything else. */
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
    if (flag === '--http') out.http = value();
    else if (flag === '--http-token-file') out.tokenFile = value();
    // Used only if the daemon does not answer and the full command takes over.
    else if (flag === '-c' || flag === '--config' || flag === '--state-dir') value();
    else if (flag === '--block' && inline === undefined) out.block = true;
    else if (flag === '--json' && inline === undefined) out.json = true;
    else if (flag === '--wait') {
      const v = value();
      if (v === undefined || !/^\d+$/.test(v) || Number(v) > 300) return undefined;
      out.wait = Number(v);
    } else if (!a.startsWith('-') && out.target === undefined) out.target = a;
    else return undefined;
  }
  if (out.target === undefined || out.http === undefined) return undefined;
  return { ...out, target: out.target, http: out.http };
}

/** Runs the fast path; the exit code, or undefined when the full command must handle it. */
export async function tryDirectId(args: readonly string[]): Promise<number | undefined> {
  const a = parseDirect(args);
  const target = a ? parseListenTarget(a.http) : null;
  if (!a || !target) return undefined;
  const token =
    a.tokenFile !== undefined ? await readBearerToken(a.tokenFile).catch(() => undefined) : undefined;
  if (a.tokenFile !== undefined && token === undefined) return undefined;
  const abs = path.resolve(process.cwd(), a.target);
  const query = `/v1/lookup?path=${encodeURIComponent(abs)}${a.wait ? `&wait=${a.wait}` : ''}`;
  let res;
  try {
    res = await getFromDaemon(target, query, { token, timeoutMs: 2_000 + (a.wait ?? 0) * 1000 });
  } catch {
    return undefined;
  }
  const body = JSON.parse(res.body) as Record<string, unknown> & { fileId?: string; block?: unknown };
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
    process.stderr.write(`files-sync: ${displayPath(abs)}: ${displayPath(String(body.error))}\n`);
    return 1;
  }
  return undefined;
}
