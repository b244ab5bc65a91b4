/** Shared plumbing of the CLI commands: config loading, exit codes, client and folder set-up. */
import { LeaseHeldError, PgConnectionError } from '../state/postgres/errors.js';
import type { DestinationStream, Logger } from 'pino';
import { loadConfig, type ConfigOverrides } from '../config/load.js';
import { ConfigError, EXIT_CONFIG, formatConfigError } from '../config/errors.js';
import { resolveApiKey } from '../config/api-key.js';
import type { Config } from '../config/schema.js';
import { FilesClient } from '../api/client.js';
import { createLogger, scrub } from '../log.js';
import { FilesSyncError } from '../errors.js';
import { ManifestNotFoundError } from '../state/errors.js';
import { LOG_LEVELS } from '../config/schema.js';

/** Exit codes (sysexits.h where one fits). */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 64,
  unavailable: 69,
  tempfail: 75,
  config: EXIT_CONFIG,
} as const;

/** An error that ends a command with a given exit code and a message for the user. */
export class CliExit extends FilesSyncError {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message, { exitCode });
  }
}

export interface CommonOptions {
  config?: string;
  folder?: string[] | string;
  stateDir?: string;
  logLevel?: string;
  baseUrl?: string;
  concurrency?: string | number;
}

/** The program-wide -v/-q flags as a log level (undefined: the config's), or a usage error. */
export function verbosityLevel(opts: {
  verbose?: boolean | undefined;
  quiet?: boolean | undefined;
  logLevel?: string | undefined;
}): string | undefined {
  const wanted = [opts.verbose && '-v/--verbose', opts.quiet && '-q/--quiet', opts.logLevel && '--log-level'];
  const given = wanted.filter((w): w is string => typeof w === 'string');
  if (given.length > 1 && (opts.verbose || opts.quiet))
    throw new CliExit(
      `files-sync: ${given.join(' and ')} contradict each other. Fix: pass only one of them`,
      EXIT.usage,
    );
  if (opts.verbose) return 'debug';
  if (opts.quiet) return 'warn';
  return undefined;
}

/** Checks flag values the schema cannot describe well (text where a number belongs): exit 64, never "NaN". */
function checkFlagValues(opts: CommonOptions): void {
  if (opts.concurrency !== undefined && !/^\s*\d+\s*$/.test(String(opts.concurrency)))
    throw new CliExit(
      `files-sync: --concurrency: expected a whole number from 1 to 64, got ${JSON.stringify(String(opts.concurrency))}. Fix: e.g. --concurrency 4`,
      EXIT.usage,
    );
  if (opts.logLevel !== undefined && !(LOG_LEVELS as readonly string[]).includes(opts.logLevel))
    throw new CliExit(
      `files-sync: --log-level: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(opts.logLevel)}. Fix: e.g. --log-level debug`,
      EXIT.usage,
    );
}

/** A config error caused only by flag values is a usage error (64); anything in the file or env is 78. */
function configErrorExit(err: ConfigError): CliExit {
  const flagsOnly = err.issues.every((issue) => issue.path.startsWith('--'));
  const title = flagsOnly ? 'bad command-line value' : 'configuration error';
  return new CliExit(`files-sync: ${title}\n${formatConfigError(err)}`, flagsOnly ? EXIT.usage : EXIT.config);
}

/** Loads the configuration for a command, turning config mistakes into exit 78 with the field and the fix. */
export async function loadCliConfig(
  opts: CommonOptions,
  extra: { checkPaths?: boolean } = {},
): Promise<{ config: Config; configPath: string }> {
  checkFlagValues(opts);
  const overrides: ConfigOverrides = {};
  if (opts.stateDir !== undefined) overrides.stateDir = opts.stateDir;
  if (opts.logLevel !== undefined) overrides.logLevel = opts.logLevel;
  if (opts.baseUrl !== undefined) overrides.baseUrl = opts.baseUrl;
  if (opts.concurrency !== undefined) overrides.concurrency = Number(opts.concurrency);
  if (opts.folder !== undefined) overrides.folders = Array.isArray(opts.folder) ? opts.folder : [opts.folder];
  try {
    const loaded = await loadConfig({
      ...(opts.config !== undefined ? { configPath: opts.config } : {}),
      env: process.env,
      overrides,
      ...(extra.checkPaths !== undefined ? { checkPaths: extra.checkPaths } : {}),
    });
    return { config: loaded.config, configPath: loaded.configPath };
  } catch (err) {
    if (err instanceof ConfigError) throw configErrorExit(err);
    throw err;
  }
}

/**
 * Every API key this process knows (the environment's, and one read from api.keyFile once it is):
 * loggers and the last-resort error printer scrub them.
 */
export const knownSecrets: string[] = process.env.ANTHROPIC_API_KEY?.trim()
  ? [process.env.ANTHROPIC_API_KEY.trim()]
  : [];

/** Builds the Files API client from the config and the key ($ANTHROPIC_API_KEY or api.keyFile; exit 78 when neither). */
export async function createClient(
  config: Config,
  logger: Logger,
  onRetry?: ConstructorParameters<typeof FilesClient>[0]['onRetry'],
): Promise<FilesClient> {
  const api = config.api;
  let apiKey: string;
  try {
    apiKey = await resolveApiKey(config);
    if (!knownSecrets.includes(apiKey)) knownSecrets.push(apiKey);
  } catch (err) {
    if (err instanceof ConfigError)
      throw new CliExit(`files-sync: configuration error\n${formatConfigError(err)}`, EXIT.config);
    throw err;
  }
  return new FilesClient({
    apiKey,
    baseUrl: api.baseUrl,
    maxConnections: api.maxConnections,
    timeoutMs: api.timeoutMs,
    uploadTimeoutMs: api.uploadTimeoutMs,
    connectTimeoutMs: api.connectTimeoutMs,
    maxRetries: api.maxRetries,
    maxRetryTimeMs: api.maxRetryTimeMs,
    contract: api.contract,
    workspaceId: api.workspaceId,
    logger,
    // Named in "API key refused (401): check ..." so the fix points at where the key came from.
    breaker: {
      keySource: process.env.ANTHROPIC_API_KEY?.trim()
        ? 'ANTHROPIC_API_KEY'
        : `the key file ${api.keyFile ?? ''}`.trim(),
    },
    ...(onRetry ? { onRetry } : {}),
  });
}

/** The command logger: JSON to stderr for one-shot commands so stdout stays clean for results. */
export function commandLogger(
  config: Config | undefined,
  opts: { json?: boolean; quiet?: boolean; destination?: DestinationStream | undefined } = {},
): Logger {
  const level = opts.quiet ? 'warn' : (config?.log.level ?? 'info');
  return createLogger({
    level: level === 'info' && !opts.json ? 'warn' : level,
    destination: opts.destination ?? process.stderr,
    journalFd: 2,
    pretty: false,
    secrets: knownSecrets,
  });
}

/** Runs a command body and turns errors into exit codes and one clear message. */
export async function runCommand(body: () => Promise<number | void>): Promise<void> {
  try {
    const code = await body();
    process.exitCode = code ?? 0;
  } catch (err) {
    if (err instanceof CliExit) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof ConfigError) {
      const exit = configErrorExit(err);
      process.stderr.write(`${exit.message}\n`);
      process.exitCode = exit.exitCode;
      return;
    }
    if (err instanceof ManifestNotFoundError) {
      process.stderr.write(`${notSyncedYet(err)}\n`);
      process.exitCode = EXIT.failed;
      return;
    }
    if (err instanceof LeaseHeldError) {
      // Like a locked state dir: someone else is syncing this folder right now.
      process.stderr.write(
        `files-sync: ${err.message}. Fix: stop that daemon (another one configured with the folder takes over by itself), or, if it died, run this again once its lease is stale (10 s after its last heartbeat)\n`,
      );
      process.exitCode = EXIT.tempfail;
      return;
    }
    if (err instanceof PgConnectionError) {
      process.stderr.write(`files-sync: ${scrub(err.message, knownSecrets)}\n`);
      process.exitCode = EXIT.unavailable;
      return;
    }
    const e = err as Error;
    if (e?.name === 'StateLockedError') {
      process.stderr.write(`files-sync: ${e.message}\n`);
      process.exitCode = EXIT.tempfail;
      return;
    }
    const msg = scrub(e instanceof Error ? `${e.name}: ${e.message}` : String(err), knownSecrets);
    process.stderr.write(`files-sync: ${msg}\n`);
    process.exitCode = EXIT.failed;
  }
}

/** What a read-only command says about a folder that has no manifest yet (never the class name). */
function notSyncedYet(err: ManifestNotFoundError): string {
  const file = typeof err.context.file === 'string' ? err.context.file : undefined;
  const folder = file?.replace(/^.*\//, '').replace(/\.manifest\.json$/, '');
  const which = folder ? `folder "${folder}"` : 'this folder';
  const where = file ? ` (no manifest at ${file})` : '';
  return `files-sync: ${which} is not synced yet${where}. Fix: run \`files-sync sync\` or start the daemon (\`files-sync run\`)`;
}
