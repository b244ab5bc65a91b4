/** `files-sync run`: the daemon in the foreground (systemd runs this). */
import path from 'node:path';
import type { Command } from 'commander';
import { createLogger } from '../log.js';
import { Daemon } from '../daemon.js';
import {
  CliExit,
  createClient,
  knownSecrets,
  loadCliConfig,
  runCommand,
  EXIT,
  type CommonOptions,
} from './common.js';
import { checkListenAddress } from '../config/listen.js';
import type { Config } from '../config/schema.js';
import { VERSION } from './version.js';
import { effectiveBackend } from '../local/watch.js';

interface RunOptions extends CommonOptions {
  http?: string;
  httpTokenFile?: string;
  allowMassDelete?: boolean;
}

/** What an operator needs to know first: which build, which config, where the state is, what is watched how. */
export function startupFields(config: Config, configPath: string): Record<string, unknown> {
  const { enabled, backend } = config.watch;
  return {
    version: VERSION,
    configPath,
    stateDir: config.stateDir,
    folders: config.folders.map((f) => ({
      name: f.name,
      path: f.path,
      watcher: enabled ? effectiveBackend(backend, f.followSymlinks) : 'off',
    })),
  };
}

/** Registers `run`. */
export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description(
      'Run the daemon: watch every folder, sync changes, reconcile periodically (JSON logs on stdout)',
    )
    .option('-c, --config <file>', 'config file (default: ./sync.config.json, $FILES_SYNC_CONFIG, ...)')
    .option('--folder <name...>', 'only these folders')
    .option(
      '--http <address>',
      'serve /healthz, /status, /metrics and the /v1/ API on host:port (loopback unless a token is set) or unix:/path (overrides http.listen)',
    )
    .option('--http-token-file <file>', 'require the bearer token in this file (overrides http.tokenFile)')
    .option('--allow-mass-delete', 'release deletes held by the safety guards')
    .option('--state-dir <dir>', 'override stateDir')
    .option('--log-level <level>', 'override log.level')
    .addHelpText(
      'after',
      `
Examples:
  $ files-sync run
  $ files-sync run -c /etc/files-sync/config.json --http 127.0.0.1:9464
  $ files-sync run --http unix:/run/files-sync/api.sock

Signals: SIGTERM/SIGINT drain in-flight requests, flush the manifest and exit 0;
SIGHUP reloads the config (a bad config keeps the running one and logs why): folders, safety,
watch, reconcile, api.concurrency and log.level apply at once; other api.*, http.* and stateDir
need a restart (the log says so). With --http/http.listen, \`files-sync release-deletes\` asks
this daemon to let held deletes go.
Exit codes: 0 clean stop, 64 bad flag value, 75 another process holds the state directory,
78 configuration error.`,
    )
    .action((opts: RunOptions) =>
      runCommand(async () => {
        const withToken = (c: Config): Config =>
          opts.httpTokenFile === undefined
            ? c
            : { ...c, http: { ...c.http, tokenFile: path.resolve(opts.httpTokenFile) } };
        const loaded = await loadCliConfig(opts);
        const config = withToken(loaded.config);
        const { configPath } = loaded;
        const shapeProblem =
          opts.http !== undefined ? checkListenAddress(opts.http, { hasToken: true }) : null;
        if (shapeProblem) {
          throw new CliExit(
            `files-sync: bad command-line value\n--http: ${shapeProblem.message}. Fix: ${shapeProblem.fix}`,
            EXIT.usage,
          );
        }
        // A well-formed address that would expose the API without a token: a configuration error.
        const tokenProblem =
          opts.http !== undefined
            ? checkListenAddress(opts.http, { hasToken: config.http.tokenFile !== null })
            : null;
        if (tokenProblem) {
          throw new CliExit(
            `files-sync: configuration error\n--http: ${tokenProblem.message}. Fix: ${tokenProblem.fix}`,
            EXIT.config,
          );
        }
        const logger = createLogger({
          level: config.log.level,
          secrets: knownSecrets,
        });
        logger.info(startupFields(config, configPath), 'files-sync starting');
        // Counted on the daemon's metrics; the client itself already logs every retry.
        // eslint-disable-next-line prefer-const -- the retry callback above closes over it before it is assigned
        let daemon: Daemon | undefined;
        const client = await createClient(config, logger, (info) =>
          daemon?.metrics.retries.inc({ method: info.method, reason: info.reason }),
        );
        daemon = new Daemon({
          config,
          configPath,
          client,
          logger,
          loadConfig: async () => withToken((await loadCliConfig({ ...opts, config: configPath })).config),
          ...(opts.http !== undefined ? { httpListen: opts.http } : {}),
          allowMassDelete: opts.allowMassDelete === true,
        });
        const running = daemon;
        // Handlers go in before start(): starting can take long (first crawl of a big folder), and a
        // SIGHUP or SIGTERM in that window must not kill the process with the default action.
        let started = false;
        let reloadWanted = false;
        const stopped = new Promise<void>((resolve) => {
          let stopping = false;
          const stop = (signal: string) => {
            if (stopping) return;
            stopping = true;
            logger.info({ signal }, 'stopping');
            void running.stop().finally(resolve);
          };
          process.on('SIGTERM', () => stop('SIGTERM'));
          process.on('SIGINT', () => stop('SIGINT'));
          process.on('SIGHUP', () => {
            logger.info('SIGHUP: reloading configuration');
            if (started) void running.reload();
            else reloadWanted = true;
          });
        });
        // The daemon's own timers are unref'd (they must not hold up a stop); this one keeps the
        // process up until a signal arrives, even with watching off and nothing else pending.
        const keepAlive = setInterval(() => undefined, 1 << 30);
        try {
          try {
            await running.start();
          } catch (err) {
            // One folder failing to start must not leave the others, the endpoint and the lock running.
            await running.stop().catch(() => undefined);
            throw err;
          }
          started = true;
          if (reloadWanted) void running.reload();
          await stopped;
        } finally {
          clearInterval(keepAlive);
        }
        return EXIT.ok;
      }),
    );
}
