/** `files-sync verify`: manifest vs local hashes vs remote listing; non-zero exit on any drift. */
import type { Command } from 'commander';
import { displayPath } from '../local/display-name.js';
import { openManifest } from '../state/manifest.js';
import { folderFilter } from '../sync/session.js';
import { verifyFolder, type VerifyReport } from '../sync/verify.js';
import type { RemoteFile } from '../types.js';
import {
  commandLogger,
  createClient,
  EXIT,
  loadCliConfig,
  runCommand,
  type CommonOptions,
} from './common.js';

interface VerifyOptions extends CommonOptions {
  json?: boolean;
  local?: boolean;
}

/** Registers `verify`. */
export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description(
      'Re-hash every local file and compare with the manifest and the remote listing; exit 1 on drift',
    )
    .option('-c, --config <file>', 'config file')
    .option('--folder <name...>', 'only these folders')
    .option('--local', 'skip the remote listing (no network)')
    .option('--json', 'JSON report on stdout')
    .option('--state-dir <dir>', 'override stateDir')
    .addHelpText(
      'after',
      '\nExamples:\n  $ files-sync verify\n  $ files-sync verify --folder docs --json\n\nSuspects (remote files an unanswered upload may have created, not provably ours) count as drift and are listed with file ID, name, size, created_at and why.\n\nExit codes: 0 no drift, 1 drift found (run `files-sync sync` to repair), 64 bad flag, 78 configuration error.',
    )
    .action((opts: VerifyOptions) =>
      runCommand(async () => {
        const { config } = await loadCliConfig(opts);
        const logger = commandLogger(config, { json: opts.json === true });
        let remote: Map<string, RemoteFile> | undefined;
        if (!opts.local) {
          const client = await createClient(config, logger);
          try {
            remote = new Map();
            for await (const f of client.listAll({ pageSize: 1000 })) remote.set(f.id, f);
          } finally {
            await client.close();
          }
        }
        const results: Array<{ folder: string } & VerifyReport> = [];
        for (const folder of config.folders) {
          const m = await openManifest(config.stateDir, folder.name);
          const report = await verifyFolder({
            root: folder.path,
            filter: folderFilter(config, folder),
            followSymlinks: folder.followSymlinks,
            entries: new Map(m.entries()),
            pendingUploads: m.pendingUploads(),
            pendingDeletes: m.pendingDeletes(),
            suspects: m.suspects(),
            ...(remote ? { remote } : {}),
          });
          results.push({ folder: folder.name, ...report });
        }
        if (opts.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
        else {
          for (const r of results) {
            process.stdout.write(
              `${r.folder}: ${r.checked} files checked, ${r.drift.length === 0 ? 'in sync' : `${r.drift.length} differences`}\n`,
            );
            for (const d of r.drift)
              process.stdout.write(
                `  ${d.kind} ${displayPath(d.path)}${d.fileId ? ` (${d.fileId})` : ''}${d.detail ? `: ${displayPath(d.detail)}` : ''}\n`,
              );
            if (r.retained > 0)
              process.stdout.write(
                `  ${r.retained} old IDs still valid for their retention time (not drift)\n`,
              );
            if (r.suspects.length > 0)
              process.stdout.write(
                `  ${r.suspects.length} suspects: remote files our unanswered uploads may have created, not provably ours; never adopted or deleted in a shared workspace (delete them yourself, or set api.workspaceExclusive if the workspace is files-sync's alone)\n`,
              );
          }
        }
        return results.some((r) => r.drift.length > 0) ? EXIT.failed : EXIT.ok;
      }),
    );
}
