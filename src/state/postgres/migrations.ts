// The files_sync schema: versioned migrations, applied under an advisory lock so daemons starting together do it once.
import type pg from 'pg';
import { inTransaction } from './connection.js';
import { PgSchemaError } from './errors.js';

/** A step of the schema; never edited once released (add a new version instead). */
interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Version 1. `entries` is the consumer-facing table (documented, stable): one row per synced path.
 * The other tables are the daemon's own: folder record and stats, the intents and queues of the
 * engine, and the lease that makes one daemon the owner of a folder.
 */
const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE files_sync.folders (
  folder text PRIMARY KEY,
  root text NOT NULL,
  workspace_id text,
  record jsonb NOT NULL,
  stats jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE files_sync.entries (
  folder text NOT NULL,
  path text NOT NULL,
  file_id text NOT NULL,
  sha256 text NOT NULL,
  size_bytes bigint NOT NULL,
  mime_type text NOT NULL,
  uploaded_at timestamptz NOT NULL,
  workspace_id text,
  expires_at timestamptz,
  mtime_ms double precision NOT NULL,
  ino double precision NOT NULL,
  remote_name text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (folder, path)
);
CREATE INDEX entries_file_id ON files_sync.entries (file_id);
CREATE TABLE files_sync.pending_uploads (
  folder text NOT NULL,
  path text NOT NULL,
  record jsonb NOT NULL,
  PRIMARY KEY (folder, path)
);
CREATE TABLE files_sync.pending_deletes (
  folder text NOT NULL,
  file_id text NOT NULL,
  path text NOT NULL,
  reason text NOT NULL,
  record jsonb NOT NULL,
  PRIMARY KEY (folder, file_id)
);
CREATE TABLE files_sync.suspects (
  folder text NOT NULL,
  file_id text NOT NULL,
  record jsonb NOT NULL,
  PRIMARY KEY (folder, file_id)
);
CREATE TABLE files_sync.unsettled (
  folder text NOT NULL,
  attempt_key text NOT NULL,
  record jsonb NOT NULL,
  PRIMARY KEY (folder, attempt_key)
);
CREATE TABLE files_sync.leases (
  folder text PRIMARY KEY,
  owner_host text NOT NULL,
  owner_pid integer NOT NULL,
  token bigint NOT NULL,
  acquired_at timestamptz NOT NULL,
  heartbeat_at timestamptz NOT NULL
);
`,
  },
  {
    // The change history consumers on any host can read (the daemon's own /v1/events log is per
    // host): one row per visible change, written in the same transaction as the state it reports.
    version: 2,
    name: 'events',
    sql: `
CREATE TABLE files_sync.events (
  id bigserial PRIMARY KEY,
  folder text NOT NULL,
  type text NOT NULL,
  path text,
  file_id text,
  previous_file_id text,
  from_path text,
  detail jsonb,
  time timestamptz NOT NULL
);
CREATE INDEX events_folder_id ON files_sync.events (folder, id);
`,
  },
];

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS.at(-1)!.version;

/** Key of the transaction-scoped advisory lock that serialises migrations ("fsync" in ASCII). */
const MIGRATE_LOCK = 0x6673796e63;

/**
 * Brings the schema up to SCHEMA_VERSION in one transaction: idempotent (applied versions are
 * recorded), and safe when several processes run it at once (the advisory lock makes the others
 * wait, then find nothing to do). Returns the versions this call applied.
 */
export async function migrateSchema(pool: pg.Pool): Promise<number[]> {
  return inTransaction(pool, 'BEGIN', async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATE_LOCK]);
    await client.query('CREATE SCHEMA IF NOT EXISTS files_sync');
    await client.query(`CREATE TABLE IF NOT EXISTS files_sync.schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ v: number | null }>(
      'SELECT max(version) AS v FROM files_sync.schema_migrations',
    );
    const current = rows[0]?.v ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new PgSchemaError(
        `the database schema files_sync is at version ${current}, newer than this files-sync knows (${SCHEMA_VERSION}): upgrade files-sync`,
        { current, known: SCHEMA_VERSION },
      );
    }
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO files_sync.schema_migrations (version, name) VALUES ($1, $2)', [
        m.version,
        m.name,
      ]);
      applied.push(m.version);
    }
    return applied;
  });
}
