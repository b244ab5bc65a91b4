// A read-only view of one folder's state in PostgreSQL for the CLI and library: no lease, no schema change, a connection per read.
import { errorMessage } from '../../errors.js';
import { ManifestNotFoundError } from '../errors.js';
import type { StoredManifest } from '../manifest-files.js';
import type { ReadonlyManifest } from '../manifest.js';
import { ManifestView } from '../manifest-view.js';
import { connect, inTransaction, type PgConnection, type PgConnectionOptions } from './connection.js';
import { PgConnectionError, PgSchemaError } from './errors.js';
import { SCHEMA_VERSION } from './migrations.js';
import { loadFolder } from './store.js';

export interface PgReaderOptions extends PgConnectionOptions {
  /** The folder's name (the `folder` column). */
  folder: string;
  /**
   * Read only this path's entry, intent and queued deletes (one keyed row, not the folder): get,
   * has, pendingUpload and previousIds answer for it; size and entries() cover only it.
   */
  onlyPath?: string | undefined;
}

/** Undefined table / schema: no daemon has created the files_sync schema in this database. */
const MISSING = new Set(['42P01', '3F000']);

/**
 * Opens a folder's state in PostgreSQL read-only. It takes no lease (the owning daemon keeps
 * writing) and never creates or migrates the schema, so a role with SELECT only is enough.
 * Throws ManifestNotFoundError when no daemon has recorded the folder yet.
 */
export async function openPgReader(options: PgReaderOptions): Promise<ReadonlyManifest> {
  const { file, stored } = await readFolder(options);
  return new PgStateReader(file, stored, options);
}

class PgStateReader extends ManifestView implements ReadonlyManifest {
  constructor(
    file: string,
    stored: StoredManifest,
    private readonly options: PgReaderOptions,
  ) {
    super(file, stored);
  }

  /** Reads the folder again: sees every transaction committed so far. */
  async reload(): Promise<void> {
    this.load((await readFolder(this.options)).stored);
  }
}

async function readFolder(options: PgReaderOptions): Promise<{ file: string; stored: StoredManifest }> {
  const conn = connect({ url: options.url, passwordFile: options.passwordFile, max: 1 });
  const name = options.folder;
  const file = `${conn.display}#${name}`;
  try {
    await checkSchema(conn, name);
    // One transaction: the sections are read as of one moment, never half of a daemon's batch.
    const { manifest, existed } = await inTransaction(
      conn.pool,
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
      (client) => loadFolder(client, { name, root: '' }, { onlyPath: options.onlyPath }),
    );
    if (!existed) {
      throw new ManifestNotFoundError(
        `folder "${name}" has no state in ${conn.display} yet (no daemon has synced it)`,
        { folder: name, url: conn.display },
      );
    }
    return { file, stored: manifest };
  } catch (err) {
    if (err instanceof ManifestNotFoundError || err instanceof PgSchemaError) throw conn.scrub(err);
    throw new PgConnectionError(
      `cannot read the state of folder "${name}" from ${conn.display}: ${conn.redact(errorMessage(err))}`,
      { folder: name, url: conn.display },
      { cause: conn.scrub(err) },
    );
  } finally {
    await conn.pool.end().catch(() => undefined);
  }
}

/** The schema must exist and be one this code can read (a reader never migrates it). */
async function checkSchema(conn: PgConnection, folder: string): Promise<void> {
  let version: number;
  try {
    const { rows } = await conn.pool.query<{ v: number | null }>(
      'SELECT max(version) AS v FROM files_sync.schema_migrations',
    );
    version = rows[0]?.v ?? 0;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && MISSING.has(code)) {
      throw new ManifestNotFoundError(
        `folder "${folder}" has no state in ${conn.display}: the files_sync schema does not exist there (no daemon has used this database yet)`,
        { folder, url: conn.display },
      );
    }
    throw err;
  }
  if (version > SCHEMA_VERSION) {
    throw new PgSchemaError(
      `the database schema files_sync is at version ${version}, newer than this files-sync knows (${SCHEMA_VERSION}): upgrade files-sync`,
      { current: version, known: SCHEMA_VERSION, url: conn.display },
    );
  }
}
