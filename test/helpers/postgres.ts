// The tests' handle on the PostgreSQL test server started by the global setup (postgres-server.ts).
import pg from 'pg';
import { inject } from 'vitest';
import { onCleanup } from './cleanup.js';

/** The server's URL; throws (failing the test, never skipping it) when the setup had none. */
export function testDatabaseUrl(): string {
  const url = inject('postgresUrl');
  if (url === '') throw new Error(`no PostgreSQL test server: ${inject('postgresError')}`);
  return url;
}

/** A folder name no other test uses (all tests share one database). */
export function uniqueFolder(prefix = 'f'): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/** A database of its own on the test server (no schema yet), dropped after the test; returns its URL. */
export async function freshDatabase(): Promise<string> {
  const admin = new pg.Client({ connectionString: testDatabaseUrl() });
  await admin.connect();
  const db = `fs_${uniqueFolder('db').replace(/-/g, '_')}`;
  await admin.query(`CREATE DATABASE ${db}`);
  onCleanup(async () => {
    try {
      await admin.query(`DROP DATABASE ${db} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  });
  const u = new URL(testDatabaseUrl());
  u.pathname = `/${db}`;
  return u.toString();
}

/**
 * The environment a daemon or CLI gets for a database: the URL without its password in
 * FILES_SYNC_DATABASE_URL, the password in PGPASSWORD (a URL with a password is refused).
 */
export function databaseEnv(url: string): { FILES_SYNC_DATABASE_URL: string; PGPASSWORD: string } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { FILES_SYNC_DATABASE_URL: u.toString(), PGPASSWORD: password };
}
