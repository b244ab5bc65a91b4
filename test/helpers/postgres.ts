// The tests' handle on the PostgreSQL test server started by the global setup (postgres-server.ts).
import { inject } from 'vitest';

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
