/**
 * `files-sync ls` and `files-sync id`: answer "what is the file ID of this path?" — from the
 * running daemon when it answers (fast, live state, --wait), else from the manifest.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { displayPath } from '../local/display-name.js';
import { openFolderReader } from '../state/open-store.js';
import type { Config } from '../config/schema.js';
import { locateIn } from '../serve/locate.js';
import {
  idAnswerText,
  lookupInManifest,
  notSyncedMessage,
  stillNotSyncedMessage,
  type LookupResult,
} from '../serve/lookup.js';
import { MAX_WAIT_SECONDS } from '../serve/lookup-route.js';
import { askDaemon } from '../serve/daemon-link.js';
import { CliExit, EXIT, loadCliConfig, runCommand, type CommonOptions } from './common.js';

interface IdOptions extends CommonOptions {
  http?: string;
  httpTokenFile?: string;
  block?: boolean;
  json?: boolean;
  wait?: string;
}

/** How long `id` gives the daemon to answer before reading the manifest itself (wait excluded). */
const DAEMON_TIMEOUT_MS = 2_000;

function parseWaitFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n > MAX_WAIT_SECONDS)
    throw new CliExit(
      `files-sync: --wait: expected whole seconds from 0 to ${MAX_WAIT_SECONDS}, got ${JSON.stringify(value)}. Fix: e.g. --wait 30`,
      EXIT.usage,
    );
  return n;
}

/**
 * The lookup answer for a path: the daemon's (live state, honours wait), or the manifest's when no
 * daemon answers. A path the daemon does not know ends the command with its reason.
 */
async function lookupPath(
  config: Config,
  folder: string,
  rel: string,
  wait: number | undefined,
): Promise<{ result: LookupResult; from: 'daemon' | 'manifest' }> {
  const query = `/v1/lookup?folder=${encodeURIComponent(folder)}&path=${encodeURIComponent(rel)}${wait ? `&wait=${wait}` : ''}`;
  const res = await askDaemon(config, query, DAEMON_TIMEOUT_MS + (wait ?? 0) * 1000);
  if (res) {
    const body = JSON.parse(res.body) as LookupResult & { error?: string; reason?: string; state: string };
    if (res.status === 200) return { result: body, from: 'daemon' };
    if (res.status === 408)
      throw new CliExit(stillNotSyncedMessage(rel, body.state, wait ?? 0, body.reason), EXIT.tempfail);
    if (res.status === 404)
      throw new CliExit(notSyncedMessage(rel, folder, body.state, body.reason), EXIT.failed);
    // Anything else is the daemon's problem; the manifest still knows the answer.
  }
  if (wait)
    process.stderr.write(
      'files-sync: WARNING: --wait needs the running daemon (http.listen); answering from the manifest\n',
    );
  // One path: read only the shard (or the database row) that holds it: constant cost at any folder size.
  const m = await openFolderReader(config, folder, { onlyPath: rel });
  const result = lookupInManifest(folder, m, rel);
  if (!result) {
    const pending = m.pendingUpload(rel) !== undefined;
    throw new CliExit(notSyncedMessage(rel, folder, pending ? 'pending' : 'absent', undefined), EXIT.failed);
  }
  return { result, from: 'manifest' };
}

interface LsOptions extends CommonOptions {
  json?: boolean;
}

/** Registers `ls` and `id`. */
export function registerQueryCommands(program: Command): void {
  program
    .command('ls')
    .description(
      'List synced paths and their file IDs (from the state: manifest files or the database; no API call)',
    )
    .option('-c, --config <file>', 'config file')
    .option('--folder <name...>', 'only these folders')
    .option('--json', 'JSON array of {folder, path, fileId, sha256, size, uploadedAt}')
    .option('--state-dir <dir>', 'override stateDir')
    .addHelpText(
      'after',
      '\nExamples:\n  $ files-sync ls\n  $ files-sync ls --folder docs --json | jq -r \'.[] | select(.path|endswith(".pdf")) | .fileId\'\n\nNames with control characters are shown escaped; --json has them exact.\nExit codes: 0 ok, 1 not synced yet, 64 bad flag, 78 configuration error.',
    )
    .action((opts: LsOptions) =>
      runCommand(async () => {
        const { config } = await loadCliConfig(opts, { checkPaths: false });
        const rows: Array<{
          folder: string;
          path: string;
          fileId: string;
          sha256: string;
          size: number;
          uploadedAt: string;
        }> = [];
        for (const folder of config.folders) {
          const m = await openFolderReader(config, folder.name);
          for (const [p, e] of m.entries())
            rows.push({
              folder: folder.name,
              path: p,
              fileId: e.fileId,
              sha256: e.sha256,
              size: e.size,
              uploadedAt: e.uploadedAt,
            });
        }
        rows.sort((a, b) => a.folder.localeCompare(b.folder) || a.path.localeCompare(b.path));
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        } else {
          const multi = config.folders.length > 1;
          // A path may hold a newline or an ESC sequence: escaped here, exact in --json.
          const out = rows
            .map((r) => `${multi ? `${r.folder}:` : ''}${displayPath(r.path)}\t${r.fileId}`)
            .join('\n');
          if (out) process.stdout.write(`${out}\n`);
        }
        return EXIT.ok;
      }),
    );

  program
    .command('id <path>')
    .description('Print the file ID of a synced file (absolute path, or relative to the current directory)')
    .option('-c, --config <file>', 'config file')
    .option('--state-dir <dir>', 'override stateDir')
    .option(
      '--http <address>',
      'ask the daemon at this address (host:port or unix:/path) instead of http.listen',
    )
    .option('--http-token-file <file>', 'bearer token for --http (instead of http.tokenFile)')
    .option('--block', 'print the Messages API content block for the file (JSON) instead of the ID')
    .option(
      '--json',
      'print the whole lookup answer: fileId, sha256, sizeBytes, mimeType, state, previous, block',
    )
    .option(
      '--wait <seconds>',
      `if the file is pending (edited, not uploaded yet), wait up to this long for the upload (max ${MAX_WAIT_SECONDS}; needs the daemon)`,
    )
    .addHelpText(
      'after',
      `
Examples:
  $ files-sync id /srv/docs/contracts/2026/acme.pdf
  $ cd /srv/docs && files-sync id contracts/2026/acme.pdf
  $ files-sync id report.pdf --block --wait 60
  $ files-sync id /srv/docs/report.pdf --http unix:/run/files-sync/api.sock   # fastest: no config read

Asks the running daemon when http.listen is set (live state; --wait), else reads the state:
the manifest in stateDir, or the path's row in PostgreSQL (state.backend "postgres").
Exit codes: 0 ok, 1 not synced (a message on stderr), 64 bad flag, 75 still pending after --wait,
78 configuration error.`,
    )
    .action((target: string, opts: IdOptions) =>
      runCommand(async () => {
        const wait = parseWaitFlag(opts.wait);
        const loaded = (await loadCliConfig(opts, { checkPaths: false })).config;
        const config: Config = {
          ...loaded,
          http: {
            listen: opts.http ?? loaded.http.listen,
            tokenFile:
              opts.httpTokenFile !== undefined ? path.resolve(opts.httpTokenFile) : loaded.http.tokenFile,
          },
        };
        const abs = path.resolve(process.cwd(), target);
        const where = locateIn(config.folders, abs);
        if (!where) {
          throw new CliExit(
            `files-sync: ${displayPath(abs)} is not inside any configured folder (${config.folders.map((f) => displayPath(f.path)).join(', ')})`,
            EXIT.failed,
          );
        }
        const { result } = await lookupPath(config, where.folder.name, where.rel, wait);
        process.stdout.write(`${idAnswerText(result, opts)}\n`);
        return EXIT.ok;
      }),
    );
}
