/** One folder's working set for a process: its manifest, filter and executor, opened together. */
import { clientForFolder } from '../api/client.js';
import type { Logger } from 'pino';
import type { Config, FolderConfig } from '../config/schema.js';
import { Manifest, openManifest } from '../state/manifest.js';
import { createPathFilter, type PathFilter } from '../local/filter.js';
import { Executor, type ExecutorClient, type ExecutorEvent } from './execute.js';
import { reconcileFolder, type ReconcileReport, type RemoteLister } from './reconcile.js';
import type { EntryLookup } from './plan.js';

export interface FolderSession {
  folder: FolderConfig;
  manifest: Manifest;
  filter: PathFilter;
  executor: Executor;
  logger: Logger;
  close(): Promise<void>;
}

export interface SessionOptions {
  onEvent?: (event: ExecutorEvent) => void;
  signal?: AbortSignal;
  writeDelayMs?: number;
}

/** The folder's include/exclude filter; the state directory is excluded by its literal path when it sits inside. */
export function folderFilter(config: Config, folder: FolderConfig): PathFilter {
  return createPathFilter({
    include: folder.include,
    exclude: folder.exclude,
    root: folder.path,
    stateDir: config.stateDir,
  });
}

/** A live, copy-free view of a manifest's entries for the planner. */
export function manifestLookup(manifest: Pick<Manifest, 'get' | 'paths' | 'entries'>): EntryLookup {
  return {
    get: (p) => manifest.get(p),
    keys: () => manifest.paths(),
    *values() {
      for (const [, e] of manifest.entries()) yield e;
    },
  };
}

/** Opens the manifest and builds the filter and executor of one folder. The caller holds the state-dir lock. */
export async function openFolderSession(
  config: Config,
  folder: FolderConfig,
  client: ExecutorClient,
  logger: Logger,
  options: SessionOptions = {},
): Promise<FolderSession> {
  const manifest = await Manifest.open(
    config.stateDir,
    { name: folder.name, root: folder.path },
    options.writeDelayMs !== undefined ? { writeDelayMs: options.writeDelayMs } : {},
  );
  const filter = folderFilter(config, folder);
  const folderLogger = logger.child({ folder: folder.name });
  const executor = new Executor({
    root: folder.path,
    client: clientForFolder(client, folder),
    manifest,
    concurrency: config.api.concurrency,
    logger: folderLogger,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
  return {
    folder,
    manifest,
    filter,
    executor,
    logger: folderLogger,
    close: () => manifest.close(),
  };
}

/**
 * IDs recorded by the other configured folders (read from their manifests on disk). All folders
 * use one key, so they share a workspace: one folder's recovery must never take another's files.
 */
export async function otherFoldersIds(config: Config, folderName: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const f of config.folders) {
    if (f.name === folderName) continue;
    const m = await openManifest(config.stateDir, f.name).catch(() => undefined);
    if (!m) continue;
    for (const [, e] of m.entries()) ids.add(e.fileId);
    for (const d of m.pendingDeletes()) ids.add(d.fileId);
  }
  return ids;
}

/** Runs one full reconciliation of a session's folder with the config's limits. */
export function reconcileSession(
  session: FolderSession,
  config: Config,
  client: RemoteLister,
  opts: {
    dryRun?: boolean;
    allowMassDelete?: boolean;
    signal?: AbortSignal;
    listRemote?: boolean;
    onPlan?: Parameters<typeof reconcileFolder>[0]['onPlan'];
    onHash?: (p: string) => void;
  },
): Promise<ReconcileReport> {
  return reconcileFolder({
    folderName: session.folder.name,
    root: session.folder.path,
    filter: session.filter,
    followSymlinks: session.folder.followSymlinks,
    manifest: session.manifest,
    executor: session.executor,
    client: clientForFolder(client, session.folder),
    limits: config.safety,
    allowMassDelete: opts.allowMassDelete ?? false,
    dryRun: opts.dryRun ?? false,
    logger: session.logger,
    ...(config.folders.length > 1 ? { foreignIds: () => otherFoldersIds(config, session.folder.name) } : {}),
    ...(opts.listRemote !== undefined ? { listRemote: opts.listRemote } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onPlan ? { onPlan: opts.onPlan } : {}),
    ...(opts.onHash ? { onHash: opts.onHash } : {}),
  });
}
