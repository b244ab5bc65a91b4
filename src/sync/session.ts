/** One folder's working set for a process: its manifest, filter and executor, opened together. */
import { clientForFolder } from '../api/client.js';
import type { Logger } from 'pino';
import type { Config, FolderConfig } from '../config/schema.js';
import { openManifest } from '../state/manifest.js';
import { openFolderStore, type FolderStore, type FolderStoreOptions } from '../state/open-store.js';
import type { ForeignClaims } from './foreign-claims.js';
import { createPathFilter, type PathFilter, type PathFilterOptions } from '../local/filter.js';
import { startThreadScan, type PendingScan, type ScanRequest } from '../local/scan-thread.js';
import { Executor, type ExecutorClient, type ExecutorEvent } from './execute.js';
import { logFileOp } from './file-op-log.js';
import { reconcileFolder, type ReconcileReport } from './reconcile.js';
import {
  startListing,
  type PassContext,
  type PassOptions,
  type PendingListing,
  type RemoteLister,
} from './pass.js';

/**
 * Every manifest this process has open: an ambiguous upload in one folder must never adopt a file
 * another folder records, queues for deletion or suspects (they may share a workspace).
 */
const openManifests = new Set<FolderStore>();

/** True when any manifest open in this process knows the ID. */
export function ownedByAnyFolder(id: string): boolean {
  for (const m of openManifests) {
    if (m.findByFileId(id) !== undefined) return true;
    if (m.pendingDelete(id) !== undefined || m.suspect(id) !== undefined) return true;
  }
  return false;
}

export interface FolderSession {
  folder: FolderConfig;
  manifest: FolderStore;
  filter: PathFilter;
  executor: Executor;
  /** Other folders' claims in the shared database (backend postgres); undefined for lowdb. */
  foreign?: ForeignClaims | undefined;
  logger: Logger;
  /**
   * The listing (and with `walkAhead` the walk) started as the session opened (`listAhead`),
   * handed out once: to the first reconciliation, which must follow the open at once. Later calls
   * get undefined.
   */
  takeHeadStart(): HeadStart | undefined;
  close(): Promise<void>;
}

/** What a first reconciliation started before the state was read: the listing, and maybe the walk. */
export interface HeadStart {
  listing: PendingListing;
  scan?: PendingScan | undefined;
}

/** Cancels what a head start nobody will use has under way. */
export function cancelHeadStart(headStart: HeadStart | undefined): void {
  headStart?.listing.cancel();
  headStart?.scan?.cancel();
}

export interface SessionOptions {
  onEvent?: ((event: ExecutorEvent) => void) | undefined;
  signal?: AbortSignal | undefined;
  /** Lease and database events of a PostgreSQL store (see FolderSync). */
  store?: FolderStoreOptions | undefined;
  /**
   * Start the first reconciliation's remote listing with this client before the state is read, so
   * the two overlap (100k entries take half a second to read). Only for lowdb state, whose lock
   * the caller already holds: a PostgreSQL store may wait for its lease first.
   */
  listAhead?: RemoteLister | undefined;
  /**
   * With listAhead: walk the folder ahead too, on a thread of its own (the three overlap; 100k
   * files take a second to walk). Only where nothing is to watch the folder after the walk (the
   * one-shot sync): a watcher subscribed after the walk read a directory would miss a file
   * created there in between, until the next reconciliation.
   */
  walkAhead?: boolean | undefined;
}

/** The workspace a folder's files live in: its own, else the API's, else the key's default (null). */
export function folderWorkspace(config: Config, folder: FolderConfig): string | null {
  return folder.workspaceId ?? config.api.workspaceId ?? null;
}

/** The folder's include/exclude filter; the state directory is excluded by its literal path when it sits inside. */
export function folderFilter(config: Config, folder: FolderConfig): PathFilter {
  return createPathFilter(folderFilterOptions(config, folder));
}

function folderFilterOptions(config: Config, folder: FolderConfig): PathFilterOptions {
  return { include: folder.include, exclude: folder.exclude, root: folder.path, stateDir: config.stateDir };
}

/** Opens the manifest and builds the filter and executor of one folder. The caller holds the state-dir lock. */
export async function openFolderSession(
  config: Config,
  folder: FolderConfig,
  client: ExecutorClient,
  logger: Logger,
  options: SessionOptions = {},
): Promise<FolderSession> {
  const folderLogger = logger.child({ folder: folder.name });
  let headStart = startHeadStart(config, folder, folderLogger, options);
  let parts: SessionParts;
  try {
    parts = await openSessionParts(config, folder, client, folderLogger, options);
  } catch (err) {
    cancelHeadStart(headStart);
    throw err;
  }
  const { manifest } = parts;
  openManifests.add(manifest);
  return {
    ...parts,
    folder,
    logger: folderLogger,
    takeHeadStart: () => {
      const taken = headStart;
      headStart = undefined;
      return taken;
    },
    close: async () => {
      cancelHeadStart(headStart);
      headStart = undefined;
      openManifests.delete(manifest);
      await manifest.close();
    },
  };
}

/** What `listAhead` and `walkAhead` ask to start before the state is read (nothing for PostgreSQL). */
function startHeadStart(
  config: Config,
  folder: FolderConfig,
  logger: Logger,
  { listAhead, walkAhead, signal }: SessionOptions,
): HeadStart | undefined {
  if (listAhead === undefined || config.state.backend === 'postgres') return undefined;
  const listing = startListing({ client: clientForFolder(listAhead, folder), logger, signal });
  if (walkAhead !== true) return { listing };
  return { listing, scan: startThreadScan(folderScanRequest(config, folder), signal) };
}

/** What a walk of the folder on its thread is given (`startThreadScan`). */
export function folderScanRequest(config: Config, folder: FolderConfig): ScanRequest {
  return {
    root: folder.path,
    filter: folderFilterOptions(config, folder),
    followSymlinks: folder.followSymlinks,
  };
}

type SessionParts = Pick<FolderSession, 'manifest' | 'filter' | 'executor' | 'foreign'>;

/** The state (started over when the folder changed workspace), filter and executor of a session. */
async function openSessionParts(
  config: Config,
  folder: FolderConfig,
  client: ExecutorClient,
  folderLogger: Logger,
  options: SessionOptions,
): Promise<SessionParts> {
  const workspaceId = folderWorkspace(config, folder);
  const manifest = await openFolderStore(
    config,
    { name: folder.name, root: folder.path, workspaceId },
    options.store,
  );
  const filter = folderFilter(config, folder);
  if (manifest.workspaceId !== undefined && manifest.workspaceId !== workspaceId) {
    // Another workspace's IDs can be neither reached nor deleted from this one: start over.
    const from = manifest.workspaceId;
    const entries = manifest.size;
    const kept = await manifest.startOver(workspaceId);
    folderLogger.warn(
      { event: 'workspace-changed', from, to: workspaceId, entries },
      `folder "${folder.name}" moved from workspace ${from ?? '(key default)'} to ${workspaceId ?? '(key default)'}: its ${entries} files are uploaded again; nothing is deleted in the old workspace${kept ? ` (the old state is kept in ${kept})` : ''}`,
    );
  }
  const others = await otherFoldersIds(config, folder.name);
  const foreign = await foreignClaimsOf(config, manifest);
  const executor = new Executor({
    root: folder.path,
    client: clientForFolder(client, folder),
    manifest,
    concurrency: config.api.concurrency,
    logger: folderLogger,
    signal: options.signal,
    // Every executor is built here: one log line per finished file operation, as it finishes.
    onEvent: (e) => {
      if (e.type === 'op-end' && e.outcome)
        logFileOp(folderLogger, e.outcome, (p) => manifest.get(p)?.fileId);
      options.onEvent?.(e);
    },
    retention: config.retention,
    exclusive: config.api.workspaceExclusive,
    limits: config.safety,
    // Other folders' manifests: the open ones live, the rest as they were on disk at open; with
    // a shared database, every folder recorded there, asked live (`foreign`).
    isOwned: (id) => ownedByAnyFolder(id) || others.has(id),
    foreign,
  });
  return { manifest, filter, executor, foreign };
}

/**
 * With state in PostgreSQL, every folder recorded there may share this one's workspace, on any
 * host, and record files at any moment: they are asked live (see ForeignClaims), not read at open.
 */
async function foreignClaimsOf(config: Config, store: FolderStore): Promise<ForeignClaims | undefined> {
  // lowdb: the other folders' IDs come from their manifests (otherFoldersIds); no pg code is loaded.
  if (config.state.backend !== 'postgres') return undefined;
  const [{ PgStateStore }, { pgForeignClaims }] = await Promise.all([
    import('../state/postgres/store.js'),
    import('../state/postgres/ownership.js'),
  ]);
  return store instanceof PgStateStore ? pgForeignClaims(store.pool, store.folder.name) : undefined;
}

/**
 * IDs recorded by the other configured folders (read from their manifests on disk). All folders
 * use one key, so they share a workspace: one folder's recovery must never take another's files.
 * With backend postgres there are no such files: `foreign` asks the database instead.
 */
async function otherFoldersIds(config: Config, folderName: string): Promise<Set<string>> {
  const ids = new Set<string>();
  if (config.state.backend === 'postgres' || config.folders.length < 2) return ids;
  for (const f of config.folders) {
    if (f.name === folderName) continue;
    const m = await openManifest(config.stateDir, f.name).catch(() => undefined);
    if (!m) continue;
    for (const [, e] of m.entries()) ids.add(e.fileId);
    for (const d of m.pendingDeletes()) ids.add(d.fileId);
    for (const x of m.suspects()) ids.add(x.fileId);
  }
  return ids;
}

/** What a pass over this session's folder needs, with the config's limits. */
export function passContext(
  session: FolderSession,
  config: Config,
  client: RemoteLister,
  opts: { allowMassDelete?: boolean | undefined; signal?: AbortSignal | undefined },
): PassContext {
  return {
    root: session.folder.path,
    filter: session.filter,
    followSymlinks: session.folder.followSymlinks,
    manifest: session.manifest,
    executor: session.executor,
    client: clientForFolder(client, session.folder),
    limits: config.safety,
    allowMassDelete: opts.allowMassDelete ?? false,
    logger: session.logger,
    foreignIds:
      config.folders.length > 1 && config.state.backend !== 'postgres'
        ? () => otherFoldersIds(config, session.folder.name)
        : undefined,
    foreign: session.foreign,
    exclusive: config.api.workspaceExclusive,
    // The next reconciliation is due one interval from now: a copy expiring before it goes up again now.
    expiryMarginMs: config.reconcile.intervalMs,
    signal: opts.signal,
  };
}

/** Runs one full reconciliation of a session's folder with the config's limits. */
export function reconcileSession(
  session: FolderSession,
  config: Config,
  client: RemoteLister,
  opts: Pick<PassOptions, 'onPlan' | 'onProgress' | 'listing' | 'scan'> & {
    dryRun?: boolean | undefined;
    allowMassDelete?: boolean | undefined;
    signal?: AbortSignal | undefined;
  },
): Promise<ReconcileReport> {
  return reconcileFolder({
    ...passContext(session, config, client, opts),
    folderName: session.folder.name,
    manifest: session.manifest,
    dryRun: opts.dryRun ?? false,
    onPlan: opts.onPlan,
    onProgress: opts.onProgress,
    // One the caller took already, else the one started as the session opened (if any).
    ...(opts.listing === undefined ? session.takeHeadStart() : { listing: opts.listing, scan: opts.scan }),
  });
}
