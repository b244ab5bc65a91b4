/** PostgreSQL for benchmarks: databases on a private cluster, reached with the password apart from the URL (as users must). */
import pg from 'pg';
import type { TestCluster } from '../../test/helpers/postgres-server.js';
import { migrateFolderState } from '../../src/state/migrate-backend.js';

/** A URL without its password, and the password (given to node-postgres apart, as users do). */
export interface BenchDatabase {
  url: string;
  password: string;
}

/** node-postgres settings for a database (its connection string would override a separate password). */
export function clientConfig(db: BenchDatabase): pg.ClientConfig {
  const u = new URL(db.url);
  return {
    host: u.hostname,
    port: Number(u.port),
    user: decodeURIComponent(u.username),
    database: u.pathname.slice(1),
    password: db.password,
  };
}

/** Creates an empty database on the cluster and returns how to reach it. */
export async function createDatabase(cluster: TestCluster, name: string): Promise<BenchDatabase> {
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(cluster.url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  u.pathname = `/${name}`;
  return { url: u.toString(), password };
}

/**
 * A folder's lowdb state moved into the database by the product's own migration (`files-sync
 * state migrate`), with PGPASSWORD set for this process meanwhile (node-postgres reads it).
 */
export async function migrateToPostgres(
  db: BenchDatabase,
  folder: { name: string; root: string },
  stateDir: string,
): Promise<void> {
  const before = process.env.PGPASSWORD;
  process.env.PGPASSWORD = db.password;
  try {
    await migrateFolderState({ from: 'lowdb', to: 'postgres', folder, stateDir, url: db.url });
  } finally {
    if (before === undefined) delete process.env.PGPASSWORD;
    else process.env.PGPASSWORD = before;
  }
}
