/** `files-sync ls` and `files-sync id`: answer "what is the file ID of this path?" from the manifest. */
import path from 'node:path';
import type { Command } from 'commander';
import { displayPath } from '../local/display-name.js';
import { openManifest } from '../state/manifest.js';
import type { Config, FolderConfig } from '../config/schema.js';
import { CliExit, EXIT, loadCliConfig, runCommand, type CommonOptions } from './common.js';

interface LsOptions extends CommonOptions {
  json?: boolean;
}

/** Finds the configured folder that contains an absolute path, and the path relative to it (POSIX). */
export function locatePath(
  config: Config,
  absPath: string,
): { folder: FolderConfig; rel: string } | undefined {
  let best: { folder: FolderConfig; rel: string } | undefined;
  for (const folder of config.folders) {
    const rel = path.relative(folder.path, absPath);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) continue;
    // The deepest root wins (folders cannot nest, but be exact anyway).
    if (!best || folder.path.length > best.folder.path.length)
      best = { folder, rel: rel.split(path.sep).join('/') };
  }
  return best;
}

/** Registers `ls` and `id`. */
export function registerQueryCommands(program: Command): void {
  program
    .command('ls')
    .description('List synced paths and their file IDs (from the manifest; no network)')
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
          const m = await openManifest(config.stateDir, folder.name);
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
    .addHelpText(
      'after',
      '\nExamples:\n  $ files-sync id /srv/docs/contracts/2026/acme.pdf\n  $ cd /srv/docs && files-sync id contracts/2026/acme.pdf\n\nPrints only the file ID. Exit codes: 0 ok, 1 not synced (a message on stderr), 64 bad flag, 78 configuration error.',
    )
    .action((target: string, opts: CommonOptions) =>
      runCommand(async () => {
        const { config } = await loadCliConfig(opts, { checkPaths: false });
        const abs = path.resolve(process.cwd(), target);
        const where = locatePath(config, abs);
        if (!where) {
          throw new CliExit(
            `files-sync: ${displayPath(abs)} is not inside any configured folder (${config.folders.map((f) => displayPath(f.path)).join(', ')})`,
            EXIT.failed,
          );
        }
        const m = await openManifest(config.stateDir, where.folder.name);
        const entry = m.get(where.rel);
        if (!entry) {
          const pending = m.pendingUploads?.().some((p) => p.path === where.rel);
          throw new CliExit(
            `files-sync: ${displayPath(where.rel)} is not synced${pending ? ' yet (an upload is pending)' : ''} in folder "${where.folder.name}"`,
            EXIT.failed,
          );
        }
        process.stdout.write(`${entry.fileId}\n`);
        return EXIT.ok;
      }),
    );
}
