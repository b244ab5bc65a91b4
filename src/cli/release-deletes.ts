/** `files-sync release-deletes`: let deletes held by the safety guards go, through the running daemon or a sync of our own. */
import type { Command } from 'commander';
import { readControlRecord, requestReleaseDeletes, type ReleaseResult } from '../control.js';
import { acquireLock } from '../state/lock.js';
import { isProcessAlive } from '../state/process.js';
import { openFolderSession, reconcileSession, type FolderSession } from '../sync/session.js';
import { errorMessage } from '../errors.js';
import { commandChangeSink, openCommandEventLog, recordHeld, recordOutcome } from '../serve/recorder.js';
import type { Config } from '../config/schema.js';
import type { Logger } from 'pino';
import {
  CliExit,
  commandLogger,
  createClient,
  EXIT,
  loadCliConfig,
  runCommand,
  type CommonOptions,
} from './common.js';

interface ReleaseOptions extends CommonOptions {
  json?: boolean;
}

/** One line per folder for people. */
function formatRelease(r: ReleaseResult): string {
  if (r.status !== 'ok' && r.deleted === 0)
    return `${r.name}: ${r.status}${r.error ? `: ${r.error}` : ''} (${r.heldDeletes} deletes still held)`;
  const still = r.heldDeletes > 0 ? `; ${r.heldDeletes} still held` : '';
  const failed = r.failed > 0 ? `; ${r.failed} operations failed (see the log; rerun to retry)` : '';
  return `${r.name}: released; deleted ${r.deleted} remote files${still}${failed}`;
}

/** No daemon runs: one full pass per folder with the guards off, as `sync --allow-mass-delete` does. */
async function releaseHere(config: Config, logger: Logger): Promise<ReleaseResult[]> {
  const lock = await acquireLock(config.stateDir).catch((err: unknown) => {
    if ((err as Error).name !== 'StateLockedError') throw err;
    throw new CliExit(
      `files-sync: ${errorMessage(err)}. The daemon has no HTTP endpoint to ask (http.listen is unset). Fix: set http.listen (e.g. "127.0.0.1:9464") and restart it, or stop it, run this again and start it`,
      EXIT.tempfail,
    );
  });
  const client = await createClient(config, logger);
  // What this pass deletes goes to the daemon's event log, as a `sync` does (we hold its lock).
  const events = await openCommandEventLog(config.stateDir, logger);
  const results: ReleaseResult[] = [];
  try {
    for (const folder of config.folders) {
      // Operations end only once the session below exists (during the pass).
      const session: FolderSession = await openFolderSession(config, folder, client, logger, {
        onEvent: (e) => {
          if (e.type === 'op-end' && e.outcome)
            recordOutcome(changes, folder.name, e.outcome, (rel) => session.manifest.get(rel)?.fileId);
        },
      });
      const changes = commandChangeSink(events, session.manifest);
      try {
        const r = await reconcileSession(session, config, client, { allowMassDelete: true });
        if (r.heldDeletes > 0) recordHeld(changes, folder.name, r.heldDeletes, r.heldReason);
        results.push({
          name: folder.name,
          status: r.status,
          deleted: r.deleted,
          failed: r.failed.length,
          heldDeletes: r.heldDeletes,
          error: r.error,
        });
      } finally {
        await session.close();
      }
    }
  } finally {
    await events?.close();
    await lock.release();
    await client.close();
  }
  return results;
}

/** Registers `release-deletes`. */
export function registerReleaseDeletesCommand(program: Command): void {
  program
    .command('release-deletes')
    .description(
      'Let the deletes held by the safety guards go: asks the running daemon, or syncs with --allow-mass-delete when none runs',
    )
    .option('-c, --config <file>', 'config file')
    .option('--folder <name...>', 'only these folders (by name)')
    .option('--json', 'print the result per folder as JSON on stdout')
    .option('--state-dir <dir>', 'override stateDir')
    .addHelpText(
      'after',
      `
Look first: \`files-sync status\` (held deletes and why) or \`files-sync sync --dry-run\`.

Examples:
  $ files-sync release-deletes                 # every folder
  $ files-sync release-deletes --folder docs

A running daemon is asked over its loopback endpoint (http.listen; the URL and a token are in
control.json in the state directory). It runs one reconciliation of each folder with the guards
off, so what it deletes is what is gone locally at that moment.

Exit codes: 0 released, 1 something failed, 64 bad flag, 69 the daemon did not answer,
75 the daemon runs without an HTTP endpoint, 78 configuration error.`,
    )
    .action((opts: ReleaseOptions) =>
      runCommand(async () => {
        const { config } = await loadCliConfig(opts, { checkPaths: false });
        const names = config.folders.map((f) => f.name);
        const asked = opts.folder === undefined ? undefined : names;
        const record = await readControlRecord(config.stateDir);
        let results: ReleaseResult[];
        if (record && isProcessAlive(record.pid)) {
          try {
            results = await requestReleaseDeletes(record, asked);
          } catch (err) {
            throw new CliExit(
              `files-sync: the daemon (pid ${record.pid}) at ${record.url} did not release the deletes: ${errorMessage(err)}`,
              EXIT.unavailable,
            );
          }
        } else {
          results = await releaseHere(config, commandLogger(config, { json: opts.json === true }));
        }
        if (opts.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
        else for (const r of results) process.stdout.write(`${formatRelease(r)}\n`);
        return results.every((r) => r.status === 'ok' && r.failed === 0) ? EXIT.ok : EXIT.failed;
      }),
    );
}
