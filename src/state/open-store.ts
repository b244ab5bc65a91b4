// Opens a folder's state in the configured backend (lowdb files in stateDir, or PostgreSQL): writable for the daemon, read-only for the CLI.
import type { Config } from '../config/schema.js';
import { FilesSyncError } from '../errors.js';
import { Manifest, openManifest, type ReadonlyManifest } from './manifest.js';
import type { FolderRecord } from './manifest-format.js';
// Loaded only for backend "postgres": a lowdb command does not pay for the pg driver.
import type { HeldLease, PgStateStoreOptions, StateChangeEvent } from './postgres/store.js';
import type { StateStore } from './store.js';

/** What the engine needs of a folder's store beyond StateStore: the workspace rule (see Manifest.startOver). */
export type FolderStore = StateStore & {
  readonly workspaceId: string | null | undefined;
  /** Returns where the old state is kept, if the backend keeps it. */
  startOver(workspaceId: string | null): Promise<string | undefined>;
  /** Backends that keep a change history other hosts read (PostgreSQL: files_sync.events) record it here. */
  recordChange?(change: StateChangeEvent): void;
  /** The folder lease this store writes under (PostgreSQL only). */
  readonly lease?: HeldLease | undefined;
};

/** What the daemon's folder loop hears from, and tells, a PostgreSQL store (ignored by lowdb). */
export type FolderStoreOptions = Pick<
  PgStateStoreOptions,
  'onLeaseLost' | 'onUnreachable' | 'onWriteError' | 'reclaimToken' | 'leaseStaleMs' | 'heartbeatMs'
>;

/** Backend "postgres" without a URL. */
export class StateConfigError extends FilesSyncError {}

/** The database URL: FILES_SYNC_DATABASE_URL, else state.url. */
export function databaseUrl(
  config: Pick<Config, 'state'>,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const fromEnv = env.FILES_SYNC_DATABASE_URL;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : config.state.url;
}

/** The database URL of backend "postgres"; a typed error naming the fix when there is none. */
function requiredDatabaseUrl(config: Pick<Config, 'state'>): string {
  const url = databaseUrl(config);
  if (url === undefined) {
    throw new StateConfigError(
      'state.backend is "postgres" but no database URL is set. Fix: set state.url or FILES_SYNC_DATABASE_URL',
      { backend: 'postgres' },
    );
  }
  return url;
}

/** Opens (or creates) the folder's state where the config says it lives. */
export async function openFolderStore(
  config: Pick<Config, 'state' | 'stateDir'>,
  folder: FolderRecord,
  options: FolderStoreOptions = {},
): Promise<FolderStore> {
  if (config.state.backend !== 'postgres') return Manifest.open(config.stateDir, folder);
  const url = requiredDatabaseUrl(config);
  const { PgStateStore } = await import('./postgres/store.js');
  return PgStateStore.open({ ...options, url, passwordFile: config.state.passwordFile, folder });
}

/**
 * Opens a folder's state read-only where the config says it lives: never writes, never locks,
 * takes no lease (safe while a daemon, here or on another host, owns the folder). With
 * `onlyPath`, only what a one-path lookup needs is read. ManifestNotFoundError when the folder
 * has no state yet.
 */
export async function openFolderReader(
  config: Pick<Config, 'state' | 'stateDir'>,
  folderName: string,
  options: { onlyPath?: string | undefined } = {},
): Promise<ReadonlyManifest> {
  if (config.state.backend !== 'postgres') {
    return openManifest(
      config.stateDir,
      folderName,
      options.onlyPath === undefined ? {} : { onlyPath: options.onlyPath },
    );
  }
  const url = requiredDatabaseUrl(config);
  const { openPgReader } = await import('./postgres/reader.js');
  return openPgReader({
    url,
    passwordFile: config.state.passwordFile,
    folder: folderName,
    onlyPath: options.onlyPath,
  });
}
