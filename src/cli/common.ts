/** Shared plumbing of the CLI commands: config loading, exit codes, client and folder set-up. */
import type { Logger } from 'pino';
import { loadConfig, type ConfigOverrides } from '../config/load.js';
import { ConfigError, EXIT_CONFIG, formatConfigError } from '../config/errors.js';
import { resolveApiKey } from '../config/api-key.js';
import type { Config, FolderConfig } from '../config/schema.js';
import { FilesClient } from '../api/client.js';
import { createLogger, scrub } from '../log.js';
import { FilesSyncError } from '../errors.js';

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

/** Loads the configuration for a command, turning config mistakes into exit 78 with the field and the fix. */
export async function loadCliConfig(
  opts: CommonOptions,
  extra: { checkPaths?: boolean } = {},
): Promise<{ config: Config; configPath: string }> {
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
    if (err instanceof ConfigError) {
      throw new CliExit(`files-sync: configuration error\n${formatConfigError(err)}`, EXIT.config);
    }
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
    ...(onRetry ? { onRetry } : {}),
  });
}

/** The command logger: JSON to stderr for one-shot commands so stdout stays clean for results. */
export function commandLogger(
  config: Config | undefined,
  opts: { json?: boolean; quiet?: boolean } = {},
): Logger {
  const level = opts.quiet ? 'warn' : (config?.log.level ?? 'info');
  return createLogger({
    level: level === 'info' && !opts.json ? 'warn' : level,
    destination: process.stderr as unknown as import('pino').DestinationStream,
    pretty: false,
    secrets: knownSecrets,
  });
}

/** The folders a command works on (all, or those named by --folder, already filtered by loadConfig). */
export function selectedFolders(config: Config): FolderConfig[] {
  return config.folders;
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

/** Formats bytes for humans. */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
