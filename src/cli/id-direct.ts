/**
 * The fast path of `files-sync id PATH`, without the config schema or the rest of the CLI
 * (commander, zod, pino, undici cost several times what the answer does). It asks the running
 * daemon by absolute path (--http, or http.listen read straight from the config file); when no
 * daemon answers and the state is lowdb's, it reads the config minimally and looks the path up in
 * the one manifest shard that holds it, printing what the full command prints. Anything it does
 * not handle plainly (another flag, an unusual config, no manifest) goes to the full command,
 * which validates the config and says what is wrong.
 */
import { writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { resolveConfigPath } from '../config/config-path.js';
import { FOLDER_NAME_PATTERN } from '../config/folder-name.js';
import { parseListenTarget, type ListenTarget } from '../config/listen.js';
import { checkFolderLayout, checkStateDirPrivate, resolveAgainst } from '../config/paths.js';
import { resolveStateLocation } from '../config/state-location.js';
import { locateIn } from '../serve/locate.js';
import { displayPath } from '../local/display-name.js';
import { isPlainObject } from '../util/plain-object.js';

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

/** The config file as JSON, and where it is; null when it cannot be found or parsed (the full command says why). */
async function readConfigFile(a: DirectArgs): Promise<{ configPath: string; raw: unknown } | null> {
  try {
    const configPath = resolveConfigPath(a.config);
    const text = await readFile(configPath, 'utf8');
    return { configPath, raw: JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) };
  } catch {
    return null;
  }
}

type Endpoint = { target: ListenTarget; tokenFile?: string };

/**
 * The daemon's address and token file: --http (with --http-token-file), else the config file's
 * http.listen and http.tokenFile. 'none' when no daemon can be asked (no http.listen, port 0);
 * null when something is unusual (the full command decides).
 */
function endpointOf(a: DirectArgs, config: ConfigFile | null): Endpoint | 'none' | null {
  const tokenFlag = a.tokenFile !== undefined ? path.resolve(a.tokenFile) : undefined;
  if (a.http !== undefined) {
    const target = parseListenTarget(a.http);
    return target ? { target, ...(tokenFlag !== undefined ? { tokenFile: tokenFlag } : {}) } : null;
  }
  if (!config) return null;
  const http: unknown = isPlainObject(config.raw) ? config.raw['http'] : undefined;
  if (http === undefined) return 'none';
  if (!isPlainObject(http)) return null;
  const { listen, tokenFile } = http;
  if (listen === undefined || listen === null) return 'none';
  if (typeof listen !== 'string') return null;
  const target = parseListenTarget(listen);
  if (!target) return null;
  // Port 0 is "any free port": nobody can be reached there from outside the daemon.
  if (target.kind === 'tcp' && target.port === 0) return 'none';
  if (tokenFile !== undefined && tokenFile !== null && typeof tokenFile !== 'string') return null;
  const resolvedToken =
    tokenFlag ??
    (typeof tokenFile === 'string'
      ? resolveAgainst(tokenFile, path.dirname(config.configPath), process.env)
      : undefined);
  return { target, ...(resolvedToken !== undefined ? { tokenFile: resolvedToken } : {}) };
}

type ConfigFile = { configPath: string; raw: unknown };

/**
 * Asks the daemon. The exit code when it answered; 'absent' when nobody is there (or the token is
 * not ours), so the manifest answers; undefined when the full command must decide.
 */
async function askDirect(
  a: DirectArgs,
  endpoint: Endpoint,
  say: Say,
): Promise<number | 'absent' | undefined> {
  const { target, tokenFile } = endpoint;
  const token =
    tokenFile !== undefined
      ? await import('../serve/token.js').then(({ readBearerToken }) =>
          readBearerToken(tokenFile).catch(() => undefined),
        )
      : undefined;
  if (tokenFile !== undefined && token === undefined) return 'absent';
  const abs = path.resolve(process.cwd(), a.target);
  const query = `/v1/lookup?path=${encodeURIComponent(abs)}${a.wait ? `&wait=${a.wait}` : ''}`;
  // The socket client only when there is a daemon to ask: the manifest path does without it.
  const [{ getFromDaemon, isNobodyThere }, lookup] = await Promise.all([
    import('../serve/client.js'),
    import('../serve/lookup.js'),
  ]);
  let res;
  try {
    res = await getFromDaemon(target, query, { token, timeoutMs: 2_000 + (a.wait ?? 0) * 1000 });
  } catch (err) {
    // Nobody there: the manifest answers. Anything else: the full command decides.
    return isNobodyThere(err) ? 'absent' : undefined;
  }
  if (res.status === 401) return 'absent';
  let body: Record<string, unknown> & { fileId?: string; block?: unknown };
  try {
    body = JSON.parse(res.body) as typeof body;
  } catch {
    // Not our daemon's answer (something else listens there): the full command decides.
    return undefined;
  }
  if (res.status === 200) {
    say.out(`${lookup.idAnswerText(body, a)}\n`);
    return 0;
  }
  if (res.status === 408 || res.status === 404) {
    // As the full command words them, with the folder and path the daemon resolved.
    const { notSyncedMessage, stillNotSyncedMessage } = lookup;
    const rel = typeof body.path === 'string' ? body.path : abs;
    say.err(
      `${
        res.status === 408
          ? stillNotSyncedMessage(rel, body.state, a.wait ?? 0, body.reason)
          : notSyncedMessage(rel, String(body.folder), body.state, body.reason)
      }\n`,
    );
    return res.status === 408 ? 75 : 1;
  }
  if (res.status === 400) {
    say.err(`files-sync: ${displayPath(abs)}: ${displayPath(String(body.error))}\n`);
    return 1;
  }
  return undefined;
}

/** Top-level fields of the config schema (config/schema.ts); any other field is the full command's error to report. */
const CONFIG_FIELDS = new Set([
  '$schema',
  'api',
  'stateDir',
  'folders',
  'watch',
  'reconcile',
  'safety',
  'retention',
  'log',
  'http',
  'state',
]);

/**
 * Where the lowdb state and the folders are, resolved exactly as loadConfig resolves them
 * (config/load.ts with checkPaths off, as `id` loads it), or null when anything is unusual: another
 * backend, a field the lookup reads that is missing or malformed, an unknown field, something that
 * looks like an API key, a state-dir env var or a folder layout the full check would question.
 * Fields the lookup does not read are not validated here (as on the daemon path, where the daemon
 * checked the config when it started); every other command reports a mistake in them.
 */
async function lowdbPlaces(
  config: ConfigFile,
): Promise<{ stateDir: string; folders: Array<{ name: string; path: string }> } | null> {
  const { raw, configPath } = config;
  if (!isPlainObject(raw) || Object.keys(raw).some((k) => !CONFIG_FIELDS.has(k))) return null;
  const { state, stateDir, folders, api } = raw;
  if (state !== undefined && !(isPlainObject(state) && (state['backend'] ?? 'lowdb') === 'lowdb'))
    return null;
  if (
    api !== undefined &&
    !(isPlainObject(api) && Object.keys(api).every((k) => !/key|secret|token/i.test(k) || k === 'keyFile'))
  )
    return null;
  if (stateDir !== undefined && (typeof stateDir !== 'string' || stateDir === '')) return null;
  if (!Array.isArray(folders) || folders.length === 0) return null;
  const env = process.env;
  const configDir = path.dirname(configPath);
  const names = new Set<string>();
  const resolved: Array<{ name: string; path: string }> = [];
  for (const f of folders as unknown[]) {
    if (!isPlainObject(f)) return null;
    const { name, path: folderPath } = f;
    if (typeof name !== 'string' || !FOLDER_NAME_PATTERN.test(name) || names.has(name)) return null;
    if (typeof folderPath !== 'string' || folderPath === '') return null;
    names.add(name);
    resolved.push({ name, path: resolveAgainst(folderPath, configDir, env) });
  }
  const location = resolveStateLocation({
    configPath,
    fromFile: stateDir === undefined ? undefined : resolveAgainst(stateDir, configDir, env),
    fromFlag: undefined,
    folderNames: [...names],
    env,
    cwd: process.cwd(),
  });
  if (location.issues.length > 0 || checkFolderLayout(resolved).length > 0) return null;
  if (await checkStateDirPrivate(location.stateDir, 'stateDir')) return null;
  return { stateDir: location.stateDir, folders: resolved };
}

/**
 * The answer from the manifest when no daemon answers, as the full command gives it: only the shard
 * holding the path is read. Undefined for anything the full command should say (a path outside
 * every folder, no manifest yet, a corrupt one).
 */
async function answerFromManifest(
  a: DirectArgs,
  config: ConfigFile | null,
  say: Say,
): Promise<number | undefined> {
  const places = config ? await lowdbPlaces(config) : null;
  if (!places) return undefined;
  const abs = path.resolve(process.cwd(), a.target);
  const where = locateIn(places.folders, abs);
  if (!where) return undefined;
  const folder = where.folder.name;
  const [{ openManifest }, { idAnswerText, lookupInManifest, notSyncedMessage }] = await Promise.all([
    import('../state/manifest-read.js'),
    import('../serve/lookup.js'),
  ]);
  let manifest;
  try {
    manifest = await openManifest(places.stateDir, folder, { onlyPath: where.rel });
  } catch {
    return undefined;
  }
  if (a.wait)
    say.err(
      'files-sync: WARNING: --wait needs the running daemon (http.listen); answering from the manifest\n',
    );
  const result = lookupInManifest(folder, manifest, where.rel);
  if (result) {
    say.out(`${idAnswerText(result, a)}\n`);
    return 0;
  }
  const pending = manifest.pendingUpload(where.rel) !== undefined;
  say.err(`${notSyncedMessage(where.rel, folder, pending ? 'pending' : 'absent', undefined)}\n`);
  return 1;
}

/** Where the fast path's answers and messages go. */
export interface Say {
  out(text: string): void;
  err(text: string): void;
}

/**
 * Straight to descriptors 1 and 2: the first touch of process.stdout loads node's stream
 * machinery, which costs more than the rest of the answer.
 */
const toDescriptors: Say = {
  out: (text) => writeAll(1, text),
  err: (text) => writeAll(2, text),
};

function writeAll(fd: 1 | 2, text: string): void {
  const bytes = Buffer.from(text);
  let done = 0;
  try {
    while (done < bytes.length) done += writeSync(fd, bytes, done);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    // The reader left (`files-sync id X | head -c0`): not an error, as in main.ts.
    if (code === 'EPIPE') return;
    // A non-blocking pipe that is full: the stream waits for it.
    if (code === 'EAGAIN') (fd === 1 ? process.stdout : process.stderr).write(bytes.subarray(done));
    else throw err;
  }
}

/** Runs the fast path; the exit code, or undefined when the full command must handle it. */
export async function tryDirectId(
  args: readonly string[],
  say: Say = toDescriptors,
): Promise<number | undefined> {
  const a = parseDirect(args);
  if (!a) return undefined;
  // With --http the daemon is asked before any file is read: that is the fastest answer.
  let config: ConfigFile | null | undefined = a.http === undefined ? await readConfigFile(a) : undefined;
  const endpoint = endpointOf(a, config ?? null);
  if (endpoint === null) return undefined;
  if (endpoint !== 'none') {
    const asked = await askDirect(a, endpoint, say);
    if (asked !== 'absent') return asked;
  }
  config ??= await readConfigFile(a);
  return answerFromManifest(a, config, say);
}
