// The test server the global setup provides is a real PostgreSQL reachable with password auth.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { testDatabaseUrl } from '../helpers/postgres.js';

describe('PostgreSQL test server', () => {
  it('answers SQL over TCP with the password from the URL', async () => {
    const client = new pg.Client({ connectionString: testDatabaseUrl() });
    await client.connect();
    try {
      const { rows } = await client.query<{ server_version_num: string }>('SHOW server_version_num');
      expect(Number(rows[0]!.server_version_num)).toBeGreaterThanOrEqual(120000);
    } finally {
      await client.end();
    }
  });
});
