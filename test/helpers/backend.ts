/**
 * One project fixture for either state backend, so a reliability test runs unchanged against
 * lowdb files and PostgreSQL (issue #14: "the same reliability tests run against both backends").
 */
import { openManifest } from '../../src/index.js';
import type { ReadonlyManifest } from '../../src/state/manifest.js';
import { databaseEnv, freshDatabase } from './postgres.js';
import { makeProject, type Project } from './project.js';

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
