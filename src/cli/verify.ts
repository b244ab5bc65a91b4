/** `files-sync verify`: manifest vs local hashes vs the remote side; non-zero exit on any drift. */
import type { Command } from 'commander';
import { clientForFolder, type FilesClient } from '../api/client.js';
import type { FolderConfig } from '../config/schema.js';
import { displayPath } from '../local/display-name.js';
import { openFolderReader } from '../state/open-store.js';
import { folderFilter } from '../sync/session.js';
import {
  remoteCheckMethod,
  remoteIdsToCheck,
  verifyFolder,
  type VerifyInput,
  type VerifyReport,
} from '../sync/verify.js';
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
  path?: string[];
}

/** `--path` values as folder-relative POSIX paths ("./a/" -> "a"; "." -> the whole folder). */
function relPaths(values: readonly string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  return values.map((v) =>
    v
      .replaceAll('\\', '/')
      .replace(/^(\.\/)+/, '')
      .replace(/\/+$/, '')
      .replace(/^\.$/, ''),
  );
}

/**
 * The remote side of one folder, from its own workspace: the `ids` filter when the check names few
 * IDs (or a subset), else the workspace's full listing, fetched once per workspace and reused by
 * every folder that lives there.
 */
async function remoteFor(
  client: FilesClient,
  folder: FolderConfig,
  input: Omit<VerifyInput, 'root' | 'filter' | 'followSymlinks'>,
  listings: Map<string, Promise<Map<string, RemoteFile>>>,
): Promise<{ files: Map<string, RemoteFile>; method: 'ids' | 'list' }> {
  const scoped = clientForFolder(client, folder);
  const ids = remoteIdsToCheck(input);
  const method = remoteCheckMethod(ids.length, {
    contract: scoped.contract,
    subset: input.paths !== undefined,
  });
  if (method === 'ids') {
    const files = new Map((await scoped.retrieveMany(ids)).map((f) => [f.id, f]));
    return { files, method };
  }
  // Folders without their own workspace share the client's (api.workspaceId, or the key's own).
  const key = folder.workspaceId ?? '';
  let listing = listings.get(key);
  if (!listing) {
    listing = (async () => {
      const files = new Map<string, RemoteFile>();
      for await (const f of scoped.listAll({ pageSize: 1000 })) files.set(f.id, f);
      return files;
    })();
    listings.set(key, listing);
  }
  return { files: await listing, method };
}

/** Registers `verify`. */
export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description(
      "Re-hash every local file and compare with the manifest and the remote side (each folder's own workspace); exit 1 on drift",
    )
    .option('-c, --config <file>', 'config file')
    .option('--folder <name...>', 'only these folders')
    .option(
      '--path <path...>',
      'only these paths of each folder (files or directories, relative to its root)',
    )
    .option('--local', 'skip the remote check (no network)')
    .option('--json', 'JSON report on stdout')
    .option('--state-dir <dir>', 'override stateDir')
    .addHelpText(
      'after',
      "\nExamples:\n  $ files-sync verify\n  $ files-sync verify --folder docs --json\n  $ files-sync verify --folder docs --path contracts/2026\n\nThe remote side is checked in each folder's own workspace: by ID (the API's ids filter, 100 a request) for a --path subset or when at most 1000 IDs are to be checked, otherwise from one full listing per workspace. Queued deletes whose file is gone already are marked so.\n\nSuspects (remote files an unanswered upload may have created, not provably ours) count as drift and are listed with file ID, name, size, created_at and why.\n\nExit codes: 0 no drift, 1 drift found (run `files-sync sync` to repair), 64 bad flag, 78 configuration error.",
    )
    .action((opts: VerifyOptions) =>
      runCommand(async () => {
        const { config } = await loadCliConfig(opts);
        const logger = commandLogger(config, { json: opts.json === true });
        const paths = relPaths(opts.path);
        const client = opts.local ? undefined : await createClient(config, logger);
        const listings = new Map<string, Promise<Map<string, RemoteFile>>>();
        const results: Array<{ folder: string; remoteCheck: 'ids' | 'list' | 'none' } & VerifyReport> = [];
        try {
          for (const folder of config.folders) {
            const m = await openFolderReader(config, folder.name);
            const input = {
              entries: new Map(m.entries()),
              pendingUploads: m.pendingUploads(),
              pendingDeletes: m.pendingDeletes(),
              suspects: m.suspects(),
              paths,
            };
            const remote = client ? await remoteFor(client, folder, input, listings) : undefined;
            const report = await verifyFolder({
              root: folder.path,
              filter: folderFilter(config, folder),
              followSymlinks: folder.followSymlinks,
              ...input,
              ...(remote ? { remote: remote.files } : {}),
            });
            results.push({ folder: folder.name, remoteCheck: remote?.method ?? 'none', ...report });
          }
        } finally {
          await client?.close();
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
