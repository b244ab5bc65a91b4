/** `files-sync emulator`: run the local Files API emulator until SIGINT/SIGTERM. */
import type { Command } from 'commander';
import pino from 'pino';
import {
  startEmulator,
  parseFaultOptions,
  type EmulatorOptions,
  type FaultOptions,
} from '../emulator/index.js';
import { createLogger } from '../log.js';
import { CliExit, EXIT, runCommand } from './common.js';

/** The env variable holding a JSON fault configuration (flags win over it). */
export const FAULTS_ENV = 'FILES_SYNC_EMULATOR_FAULTS';

/** The flags of `emulator` as commander hands them over (all strings). */
export interface EmulatorCliFlags {
  port?: string;
  host?: string;
  dataDir?: string;
  apiKey?: string;
  rpm?: string;
  maxUploadBytes?: string;
  gaOnly?: boolean;
  workspaces?: string;
  storageQuotaBytes?: string;
  fault429?: string;
  fault500?: string;
  fault529?: string;
  faultReset?: string;
  faultCreatedReset?: string;
  latency?: string;
  retryAfterMs?: string;
  seed?: string;
  logLevel?: string;
}

const FAULT_FLAGS: [Exclude<keyof EmulatorCliFlags, 'gaOnly'>, keyof FaultOptions, string][] = [
  ['fault429', 'rate429', '--fault-429'],
  ['fault500', 'rate500', '--fault-500'],
  ['fault529', 'rate529', '--fault-529'],
  ['faultReset', 'rateReset', '--fault-reset'],
  ['faultCreatedReset', 'rateCreatedThenReset', '--fault-created-reset'],
  ['latency', 'latencyMs', '--latency'],
  ['retryAfterMs', 'retryAfterMs', '--retry-after-ms'],
  ['seed', 'seed', '--seed'],
];

function usage(message: string): CliExit {
  return new CliExit(`files-sync emulator: ${message}`, EXIT.usage);
}

function integer(raw: string, flag: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || n < min || n > max)
    throw usage(`${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return n;
}

/** Builds EmulatorOptions from the flags and FILES_SYNC_EMULATOR_FAULTS; throws CliExit (64) on bad values. */
export function emulatorOptionsFromCli(
  flags: EmulatorCliFlags,
  env: NodeJS.ProcessEnv = process.env,
): EmulatorOptions {
  let faults: Record<string, unknown> = {};
  const fromEnv = env[FAULTS_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    try {
      faults = JSON.parse(fromEnv) as Record<string, unknown>;
    } catch {
      throw usage(`${FAULTS_ENV} is not valid JSON`);
    }
    if (typeof faults !== 'object' || faults === null || Array.isArray(faults))
      throw usage(`${FAULTS_ENV} must be a JSON object`);
  }
  for (const [flag, key, name] of FAULT_FLAGS) {
    const raw = flags[flag];
    if (raw === undefined) continue;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n))
      throw usage(`${name} must be a number, got ${JSON.stringify(raw)}`);
    faults = { ...faults, [key]: n };
  }
  let parsedFaults: FaultOptions;
  try {
    parsedFaults = parseFaultOptions(faults);
  } catch (err) {
    const detail = err instanceof Error ? err.message.replace(/\s+/g, ' ') : String(err);
    throw usage(`invalid fault settings (rates are 0..1, latency/retry-after/seed integers): ${detail}`);
  }
  const options: EmulatorOptions = {
    port: integer(flags.port ?? '8787', '--port', 0, 65535),
    host: flags.host ?? '127.0.0.1',
    faults: parsedFaults,
  };
  if (flags.dataDir !== undefined) options.dataDir = flags.dataDir;
  if (flags.apiKey !== undefined) {
    if (flags.apiKey === '') throw usage('--api-key must not be empty (omit it to accept any key)');
    options.apiKey = flags.apiKey;
  }
  if (flags.rpm !== undefined) options.requestsPerMinute = integer(flags.rpm, '--rpm', 0, 1_000_000);
  if (flags.maxUploadBytes !== undefined)
    options.maxUploadBytes = integer(flags.maxUploadBytes, '--max-upload-bytes', 0, Number.MAX_SAFE_INTEGER);
  if (flags.gaOnly) options.gaOnly = true;
  if (flags.workspaces !== undefined) {
    const ids = flags.workspaces.split(',').map((w) => w.trim());
    if (ids.some((w) => w === ''))
      throw usage(
        `--workspaces must be a comma-separated list of workspace IDs, got ${JSON.stringify(flags.workspaces)}`,
      );
    options.workspaces = ids;
  }
  if (flags.storageQuotaBytes !== undefined)
    options.storageQuotaBytes = integer(
      flags.storageQuotaBytes,
      '--storage-quota-bytes',
      0,
      Number.MAX_SAFE_INTEGER,
    );
  return options;
}

function waitForStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Registers `emulator`. */
export function registerEmulatorCommand(program: Command): void {
  program
    .command('emulator')
    .description(
      'Run a local emulator of the Files API (GA contract; beta shapes for requests sending the beta header) with optional fault injection, for demos and tests',
    )
    .option('--port <n>', 'port to listen on (0 = any free port)', '8787')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option(
      '--data-dir <dir>',
      'keep files and content on disk here (survives restarts); default: memory only',
    )
    .option('--api-key <key>', 'the only key to accept; default: any non-empty key')
    .option('--rpm <n>', 'requests per minute before answering 429 (0 = unlimited)')
    .option('--max-upload-bytes <n>', 'largest accepted file (default 500 MiB)')
    .option('--ga-only', 'refuse requests that send the anthropic-beta files-api-2025-04-14 header')
    .option(
      '--workspaces <ids>',
      'comma-separated workspace IDs the key can act on (one: bound to it; several: anthropic-workspace-id required)',
    )
    .option(
      '--storage-quota-bytes <n>',
      'answer uploads over this many stored bytes with storage_quota_exceeded',
    )
    .option('--fault-429 <rate>', 'probability (0..1) of a 429 rate_limit_error per request')
    .option('--fault-500 <rate>', 'probability of a 500 api_error')
    .option('--fault-529 <rate>', 'probability of a 529 overloaded_error')
    .option('--fault-reset <rate>', 'probability of dropping the connection before processing')
    .option(
      '--fault-created-reset <rate>',
      'probability (uploads only) of creating the file, then dropping the connection',
    )
    .option('--latency <ms>', 'latency added to every API response')
    .option('--retry-after-ms <ms>', 'what an injected 429 asks the client to wait (default 100)')
    .option('--seed <n>', 'seed for repeatable fault sequences')
    .option('--log-level <level>', 'log level of the JSON logs on stderr (debug logs every request)', 'warn')
    .addHelpText(
      'after',
      `
Prints one line, ANTHROPIC_BASE_URL=<url>, and serves until Ctrl-C / SIGTERM.
Faults may also come as JSON in ${FAULTS_ENV} (flags win).
Inspection (no auth): GET /_emulator/state, GET /_emulator/files, POST /_emulator/faults
(same JSON; {"rate529":1} fails every request, {"refuseKey":true} answers 401 as for a revoked key,
{"repeatCursor":true} makes the GA listing repeat its cursor; {} turns faults off),
POST /_emulator/clock {"advanceMs":n}, POST /_emulator/quota {"bytes":n|null}, POST /_emulator/reset.

Examples:
  $ files-sync emulator --port 8787
  $ files-sync emulator --ga-only --workspaces wrkspc_a,wrkspc_b --storage-quota-bytes 1000000
  $ files-sync emulator --fault-429 0.1 --fault-created-reset 0.05 --seed 7 --data-dir /tmp/emu
  $ ${FAULTS_ENV}='{"rate500":0.2,"latencyMs":50}' files-sync emulator
  $ export ANTHROPIC_BASE_URL=http://127.0.0.1:8787 ANTHROPIC_API_KEY=anything && files-sync sync`,
    )
    .action((flags: EmulatorCliFlags) =>
      runCommand(async () => {
        const options = emulatorOptionsFromCli(flags);
        const level = (flags.logLevel ?? 'warn') as pino.LevelWithSilent;
        if (!Object.keys(pino.levels.values).includes(level) && level !== 'silent')
          throw usage(`unknown --log-level ${JSON.stringify(level)}`);
        const secrets = options.apiKey !== undefined ? [options.apiKey] : [];
        options.logger = createLogger({
          level,
          destination: pino.destination({ dest: 2, sync: true }),
          pretty: false,
          secrets,
        });
        let emulator;
        try {
          emulator = await startEmulator(options);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'EADDRINUSE')
            throw new CliExit(
              `files-sync emulator: port ${options.port ?? 8787} is already in use (try --port 0)`,
              EXIT.unavailable,
            );
          throw err;
        }
        const stopped = waitForStopSignal();
        process.stdout.write(`ANTHROPIC_BASE_URL=${emulator.url}\n`);
        const signal = await stopped;
        options.logger.info({ signal }, 'emulator stopping');
        await emulator.close();
        return EXIT.ok;
      }),
    );
}
