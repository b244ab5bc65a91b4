/** `files-sync events`: the change log (uploaded, replaced, moved, deleted, expired, held), optionally followed. */
import type { Command } from 'commander';
import { displayPath } from '../local/display-name.js';
import { followEventLog, KEEP_EVENTS } from '../serve/event-log.js';
import type { ChangeEvent } from '../serve/change-events.js';
import { CliExit, EXIT, loadCliConfig, runCommand, type CommonOptions } from './common.js';

interface EventsOptions extends CommonOptions {
  follow?: boolean;
  json?: boolean;
  since?: string;
}

/** One event as a line for people: names escaped, IDs as they are. */
export function formatEventLine(e: ChangeEvent): string {
  const where =
    e.path === null
      ? `${e.folder}:`
      : `${e.folder}:${e.fromPath !== undefined ? `${displayPath(e.fromPath)} -> ` : ''}${displayPath(e.path)}`;
  const ids =
    e.type === 'held'
      ? `${e.count ?? 0} deletes held${e.reason ? ` (${e.reason})` : ''}`
      : `${e.fileId ?? ''}${e.previousFileId ? ` (was ${e.previousFileId})` : ''}`;
  return `${e.id}\t${e.time}\t${e.type}\t${where}\t${ids}`;
}

/** Registers `events`. */
export function registerEventsCommand(program: Command): void {
  program
    .command('events')
    .description(
      `Print recent changes of file IDs from the daemon's change log (the last ${KEEP_EVENTS.toLocaleString('en-US')})`,
    )
    .option('-c, --config <file>', 'config file')
    .option('--state-dir <dir>', 'override stateDir')
    .option('--folder <name>', 'only this folder')
    .option('--since <id>', 'only events after this id')
    .option('-f, --follow', 'keep printing new events as they happen (Ctrl-C to stop)')
    .option('--json', 'one JSON object per line: {id, type, folder, path, fileId, previousFileId, time, ...}')
    .addHelpText(
      'after',
      `
Examples:
  $ files-sync events
  $ files-sync events --follow --folder docs --json | jq -r 'select(.type=="replaced") | .path'

Reads <stateDir>/events.log (works whether or not the daemon runs). Programs can also stream
GET /v1/events (Server-Sent Events, Last-Event-ID to resume) from the daemon.`,
    )
    .action((opts: EventsOptions) =>
      runCommand(async () => {
        const since = opts.since === undefined ? 0 : Number(opts.since);
        if (!Number.isSafeInteger(since) || since < 0)
          throw new CliExit(
            `files-sync: --since: expected an event id (a whole number), got ${JSON.stringify(opts.since)}. Fix: e.g. --since 120`,
            EXIT.usage,
          );
        // --folder is checked against the configuration by loadCliConfig (an unknown name is an error).
        const { config } = await loadCliConfig(opts, { checkPaths: false });
        const folder = typeof opts.folder === 'string' ? opts.folder : opts.folder?.[0];
        const abort = new AbortController();
        const stop = () => abort.abort();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        try {
          for await (const e of followEventLog(config.stateDir, {
            after: since,
            folder,
            follow: opts.follow === true,
            signal: abort.signal,
          }))
            process.stdout.write(`${opts.json ? JSON.stringify(e) : formatEventLine(e)}\n`);
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
        return EXIT.ok;
      }),
    );
}
