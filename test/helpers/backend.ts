/**
 * One project fixture for either state backend, so a reliability test runs unchanged against
 * lowdb files and PostgreSQL (issue #14: "the same reliability tests run against both backends").
 */
import pg from 'pg';
import { openManifest } from '../../src/index.js';
import type { ReadonlyManifest } from '../../src/state/manifest.js';
import { openFolderStore, type FolderStore } from '../../src/state/open-store.js';
import { DEFAULT_LEASE_STALE_MS } from '../../src/state/postgres/lease.js';
import { databaseEnv, freshDatabase } from './postgres.js';
import { makeProject, type Project } from './project.js';
import { waitFor } from './wait.js';

export const BACKENDS = ['lowdb', 'postgres'] as const;
export type Backend = (typeof BACKENDS)[number];

/** Where a folder's state is read from: the state dir (lowdb) or the database URL (postgres, with password). */
export interface StateLocation {
  stateDir: string;
  /** Set for backend postgres; the CLI gets it through `env`, without the password. */
  databaseUrl?: string | undefined;
}

export type BackendProject = Project & StateLocation & { backend: Backend };

/**
 * makeProject for `backend`: for postgres the config says `state.backend: "postgres"` and the
 * CLI's env carries a fresh database of its own (URL without password + PGPASSWORD).
 */
export async function backendProject(
  backend: Backend,
  opts: Parameters<typeof makeProject>[0] = {},
): Promise<BackendProject> {
  if (backend === 'lowdb') return { ...(await makeProject(opts)), backend, databaseUrl: undefined };
  const databaseUrl = await freshDatabase();
  const p = await makeProject({ ...opts, config: { ...opts.config, state: { backend: 'postgres' } } });
  return { ...p, env: { ...p.env, ...databaseEnv(databaseUrl) }, backend, databaseUrl };
}

/** The folder's state, read-only from whichever backend holds it (ManifestNotFoundError if none yet). */
export async function readState(where: StateLocation, folder = 'docs'): Promise<ReadonlyManifest> {
  return where.databaseUrl === undefined
    ? openManifest(where.stateDir, folder)
    : openManifest({ url: where.databaseUrl, folder });
}

/**
 * Opens the folder's state for writing, as the daemon does (postgres: takes the folder's lease;
 * close() releases it, so the next process takes over at once). Tests seed what a crash left.
 */
export async function openStateForWriting(p: BackendProject, folder = 'docs'): Promise<FolderStore> {
  const state =
    p.databaseUrl === undefined
      ? { backend: 'lowdb' as const }
      : { backend: 'postgres' as const, url: p.databaseUrl };
  return openFolderStore({ stateDir: p.stateDir, state }, { name: folder, root: p.folder });
}

/**
 * Waits until a new process can take the folder: at once for lowdb (a dead process's lock is
 * reclaimed), for postgres until a SIGKILLed owner's lease is released or stale (its heartbeat
 * older than the 10 s stale time; nothing on the database tells a dead owner from a slow one).
 */
export async function waitUntilFolderFree(where: StateLocation, folder = 'docs'): Promise<void> {
  if (where.databaseUrl === undefined) return;
  const db = new pg.Client({ connectionString: where.databaseUrl });
  await db.connect();
  try {
    await waitFor(
      async () => {
        // No schema yet (the killed process never got that far) or no lease row: free.
        const { rows } = await db.query<{ free: boolean }>(
          `SELECT to_regclass('files_sync.leases') IS NULL AS free`,
        );
        if (rows[0]!.free) return true;
        const lease = await db.query<{ free: boolean }>(
          `SELECT heartbeat_at < now() - $2 * interval '1 millisecond' AS free FROM files_sync.leases WHERE folder = $1`,
          [folder, DEFAULT_LEASE_STALE_MS],
        );
        return lease.rows[0]?.free ?? true;
      },
      { timeoutMs: 60_000, intervalMs: 250, message: `the lease of folder "${folder}" to be free or stale` },
    );
  } finally {
    await db.end();
  }
}
