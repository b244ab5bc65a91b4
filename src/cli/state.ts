/** `files-sync state migrate`: moves folders' state between lowdb files and PostgreSQL, keeping every file ID. */
import type { Command } from 'commander';
import { FilesSyncError } from '../errors.js';
import { migrateFolderState, type StateBackendName } from '../state/migrate-backend.js';
import { databaseUrl } from '../state/open-store.js';
import { LeaseHeldError } from '../state/postgres/errors.js';
import { CliExit, EXIT, loadCliConfig, runCommand, type CommonOptions } from './common.js';

interface MigrateOptions extends CommonOptions {
  from: string;
  to: string;
  url?: string;
  passwordFile?: string;
  json?: boolean;
}

const BACKENDS: readonly StateBackendName[] = ['lowdb', 'postgres'];

function backend(flag: string, value: string): StateBackendName {
  if ((BACKENDS as readonly string[]).includes(value)) return value as StateBackendName;
  throw new CliExit(
    `files-sync: ${flag}: expected lowdb or postgres, got ${JSON.stringify(value)}`,
    EXIT.usage,
  );
}

/** Registers `state migrate`. */
export function registerStateCommand(program: Command): void {
  const state = program.command('state').description('Manage where folder state lives');
  state
    .command('migrate')
    .description("Move folders' state between lowdb files and PostgreSQL without uploading anything again")
    .requiredOption('--from <backend>', 'lowdb or postgres')
    .requiredOption('--to <backend>', 'lowdb or postgres')
    .option('-c, --config <file>', 'config file')
    .option('--folder <name...>', 'only these folders (by name)')
    .option('--state-dir <dir>', 'override stateDir')
    .option(
      '--url <url>',
      'database URL (default: FILES_SYNC_DATABASE_URL, else state.url); no password in it',
    )
    .option(
      '--password-file <file>',
      'file holding the database password (else state.passwordFile, else PGPASSWORD)',
    )
    .option('--json', 'print what was moved per folder as JSON')
    .addHelpText(
      'after',
      `
Stop the daemon first: the state dir's lock and each folder's lease are taken while copying.
The target must hold no state for the folder; the source is left as it was. Then set
"state": {"backend": ...} to the target and start the daemon: nothing is uploaded again.

Examples:
  $ PGPASSWORD=... files-sync state migrate --from lowdb --to postgres --url postgres://files_sync@db/files_sync
  $ files-sync state migrate --from postgres --to lowdb --folder docs

Exit codes: 0 moved, 1 failed (e.g. the target already holds state), 64 bad flag, 75 a daemon holds the state, 78 configuration error.`,
    )
    .action((opts: MigrateOptions) =>
      runCommand(async () => {
        const from = backend('--from', opts.from);
        const to = backend('--to', opts.to);
        const { config } = await loadCliConfig(opts, { checkPaths: false });
        const url = opts.url ?? databaseUrl(config);
        if (url === undefined)
          throw new CliExit(
            'files-sync: no database URL. Fix: pass --url, or set FILES_SYNC_DATABASE_URL or state.url',
            EXIT.usage,
          );
        const results = [];
        for (const folder of config.folders) {
          try {
            const moved = await migrateFolderState({
              from,
              to,
              folder: { name: folder.name, root: folder.path },
              stateDir: config.stateDir,
              url,
              passwordFile: opts.passwordFile ?? config.state.passwordFile,
            });
            results.push({ folder: folder.name, ...moved });
            if (!opts.json)
              process.stdout.write(
                `${folder.name}: moved ${moved.entries} entries, ${moved.pendingUploads} intents, ${moved.pendingDeletes} pending deletes from ${from} to ${to}\n`,
              );
          } catch (err) {
            if (err instanceof LeaseHeldError)
              throw new CliExit(`files-sync: ${folder.name}: ${err.message}`, EXIT.tempfail);
            if (err instanceof FilesSyncError && err.name !== 'StateLockedError')
              throw new CliExit(`files-sync: ${folder.name}: ${err.message}`, EXIT.failed);
            throw err;
          }
        }
        if (opts.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
        return EXIT.ok;
      }),
    );
}
