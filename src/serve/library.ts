/**
 * The library face of the consumer API: a read-only manifest that also answers lookup(path) in
 * the HTTP shape and iterates changes from the daemon's event log, in-process, no daemon needed.
 */
import path from 'node:path';
import { FilesSyncError } from '../errors.js';
import { openPgReader } from '../state/postgres/reader.js';
import { CHANGES_CHANNEL } from '../state/postgres/store.js';
import { openManifest as openReadonlyManifest, type ReadonlyManifest } from '../state/manifest.js';
import { lookupInManifest, type LookupResult } from './lookup.js';
import { followEventLog, readEventLog } from './event-log.js';
import type { ChangeEvent } from './change-events.js';

export interface ChangesOptions {
  /** Start after this event id; default: only changes from now on. 0 = every event still in the log. */
  after?: number | undefined;
  /** Keep waiting for new changes (default true); false ends at the end of the log. */
  follow?: boolean | undefined;
  signal?: AbortSignal | undefined;
  /** How often the log file is checked while following; default 200 ms. */
  pollMs?: number | undefined;
}

export interface LibraryManifest extends ReadonlyManifest {
  /**
   * The file ID, metadata, state and Messages block of a path (relative to the folder, or
   * absolute under its root); undefined when it is not synced. State comes from the manifest
   * alone: `pending` while an upload intent is recorded, else `synced`. Call reload() to see
   * the daemon's later writes.
   */
  lookup(relOrAbsPath: string): LookupResult | undefined;
  /**
   * This folder's changes (uploaded, replaced, moved, deleted, expired, held) from the event log
   * of the daemon's state dir. Embedded backend only: PostgreSQL consumers LISTEN files_sync_changes.
   */
  changes(options?: ChangesOptions): AsyncGenerator<ChangeEvent>;
}

/** Where a folder's state lives in PostgreSQL (backend "postgres"). */
export interface PostgresStateSource {
  /** `postgres://user@host:port/db`; leave the password out and set PGPASSWORD, or name a passwordFile. */
  url: string;
  /** A file holding the database password (first line). */
  passwordFile?: string | undefined;
  /** The folder's name as configured on the daemons. */
  folder: string;
}

/** Consumers of PostgreSQL state hear of changes by LISTEN, not from a local event log. */
export class ChangesUnavailableError extends FilesSyncError {}

/**
 * Opens a folder's state read-only (never writes, never locks, takes no lease; safe while the
 * daemon runs): `openManifest(stateDir, folder)` for the embedded backend, `openManifest({ url,
 * folder })` for PostgreSQL (a SELECT-only role is enough). Throws ManifestNotFoundError if the
 * folder has not been synced yet.
 */
export async function openManifest(stateDir: string, folderName: string): Promise<LibraryManifest>;
export async function openManifest(source: PostgresStateSource): Promise<LibraryManifest>;
export async function openManifest(
  where: string | PostgresStateSource,
  folderArg?: string,
): Promise<LibraryManifest> {
  const folderName = typeof where === 'string' ? (folderArg ?? '') : where.folder;
  const m =
    typeof where === 'string'
      ? await openReadonlyManifest(where, folderName)
      : await openPgReader({ url: where.url, passwordFile: where.passwordFile, folder: where.folder });
  const lookup = (p: string): LookupResult | undefined => {
    const rel = path.isAbsolute(p) ? path.relative(m.folder.root, p).split(path.sep).join('/') : p;
    return lookupInManifest(folderName, m, rel);
  };
  async function* changes(options: ChangesOptions = {}): AsyncGenerator<ChangeEvent> {
    if (typeof where !== 'string') {
      throw new ChangesUnavailableError(
        `changes() follows the daemon's local event log; with PostgreSQL state, LISTEN ${CHANGES_CHANNEL} instead (one notification per changed path: folder, path, file_id, previous_file_id)`,
        { folder: folderName },
      );
    }
    const after = options.after ?? (await readEventLog(where)).at(-1)?.id ?? 0;
    yield* followEventLog(where, {
      after,
      folder: folderName,
      follow: options.follow ?? true,
      signal: options.signal,
      pollMs: options.pollMs,
    });
  }
  return Object.assign(m, { lookup, changes });
}
