// Consumers of PostgreSQL state: `id`, `ls`, `status`, `verify`, the library's openManifest({url}) and the daemon's /v1/lookup, none taking the lease.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ChangesUnavailableError, openManifest } from '../../src/index.js';
import { ManifestNotFoundError } from '../../src/state/errors.js';
import { PgStateStore } from '../../src/state/postgres/store.js';
import { onCleanup } from '../helpers/cleanup.js';
import { databaseEnv, freshDatabase } from '../helpers/postgres.js';
import { makeProject, runCli, type Project } from '../helpers/project.js';
import { syncJson } from '../helpers/sync-cli.js';
import { serve } from '../serve/support.js';

/** Points the project at `url`: backend postgres, the URL without password, the password in a 0600 file beside the config. */
async function usePostgres(p: Project, url: string): Promise<void> {
  const { FILES_SYNC_DATABASE_URL: bare, PGPASSWORD: password } = databaseEnv(url);
  await writeFile(path.join(p.dir, 'db-password'), `${password}\n`, { mode: 0o600 });
  const config = JSON.parse(await readFile(p.configPath, 'utf8')) as Record<string, unknown>;
  await writeFile(
    p.configPath,
    JSON.stringify({ ...config, state: { backend: 'postgres', url: bare, passwordFile: 'db-password' } }),
  );
}

/** The folder's lease token as recorded (read directly: a released lease has no age). */
async function leaseToken(db: pg.Client, folder: string): Promise<string | undefined> {
  const { rows } = await db.query<{ token: string }>(
    'SELECT token::text AS token FROM files_sync.leases WHERE folder = $1',
    [folder],
  );
  return rows[0]?.token;
}

async function dbClient(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  onCleanup(() => c.end());
  return c;
}

describe('reading PostgreSQL state', () => {
  it(
    'id, ls, status and verify answer from the database, the library lookup has the CLI shape, and no reader takes the lease',
    { timeout: 180_000 },
    async () => {
      const url = await freshDatabase();
      const p = await makeProject({ files: { 'a.txt': 'alpha', 'sub/b.md': '# beta', 'c.json': '{}' } });
      await usePostgres(p, url);
      const first = await syncJson(p);
      expect(first.reports[0]).toMatchObject({ status: 'ok', uploaded: 3 });
      const db = await dbClient(url);
      const { rows } = await db.query<{ path: string; file_id: string }>(
        "SELECT path, file_id FROM files_sync.entries WHERE folder = 'docs' ORDER BY path",
      );
      expect(rows).toHaveLength(3);
      const tokenBefore = await leaseToken(db, 'docs');

      const ls = await runCli(['ls', '-c', p.configPath, '--json'], { env: p.env });
      expect(ls.stderr).toBe('');
      expect(
        (JSON.parse(ls.stdout) as Array<{ path: string; fileId: string }>).map((r) => [r.path, r.fileId]),
      ).toEqual(rows.map((r) => [r.path, r.file_id]));

      const id = await runCli(['id', path.join(p.folder, 'sub/b.md'), '-c', p.configPath, '--json'], {
        env: p.env,
      });
      expect(id.stderr).toBe('');
      expect(id.code).toBe(0);
      const answer = JSON.parse(id.stdout) as Record<string, unknown>;
      expect(answer).toMatchObject({
        folder: 'docs',
        path: 'sub/b.md',
        fileId: rows.find((r) => r.path === 'sub/b.md')!.file_id,
        state: 'synced',
      });
      const missing = await runCli(['id', path.join(p.folder, 'nope.txt'), '-c', p.configPath], {
        env: p.env,
      });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('nope.txt is not synced in folder "docs"');

      const status = await runCli(['status', '-c', p.configPath, '--json'], { env: p.env });
      expect(status.code).toBe(3); // no daemon running here
      const folders = (JSON.parse(status.stdout) as { folders: Array<Record<string, unknown>> }).folders;
      expect(folders[0]).toMatchObject({
        name: 'docs',
        filesTracked: 3,
        pendingUploads: 0,
        pendingDeletes: 0,
      });

      const verify = await runCli(['verify', '-c', p.configPath, '--json'], { env: p.env });
      expect(verify.code).toBe(0);

      // The library (a URL with a password is the calling program's choice; connect() never shows it).
      const m = await openManifest({ url, folder: 'docs' });
      expect(m.lookup('sub/b.md')).toEqual(answer);
      expect(m.lookup(path.join(p.folder, 'a.txt'))?.fileId).toBe(
        rows.find((r) => r.path === 'a.txt')!.file_id,
      );
      expect(m.size).toBe(3);
      await expect(m.changes().next()).rejects.toBeInstanceOf(ChangesUnavailableError);

      // A reader sees the owner's later commits on reload, while the owner holds the lease.
      const owner = await PgStateStore.open({
        url,
        folder: { name: 'docs', root: p.folder, workspaceId: null },
        writeDelayMs: 60_000,
        maxWriteDelayMs: 60_000,
      });
      onCleanup(() => owner.close());
      const token = owner.leaseToken;
      owner.remove('c.json');
      await owner.flush();
      await m.reload();
      expect(m.get('c.json')).toBeUndefined();
      const idWhileOwned = await runCli(['id', path.join(p.folder, 'a.txt'), '-c', p.configPath], {
        env: p.env,
      });
      expect(idWhileOwned.stdout.trim()).toBe(rows.find((r) => r.path === 'a.txt')!.file_id);
      // No reader took the lease: only the sync and the owner did, one token each.
      expect(await leaseToken(db, 'docs')).toBe(token);
      expect(BigInt(token)).toBe(BigInt(tokenBefore!) + 1n);
      await owner.close();

      // Nothing printed ever carries the password.
      const password = decodeURIComponent(new URL(url).password);
      for (const out of [ls, id, missing, status, verify, idWhileOwned])
        expect(out.stdout + out.stderr).not.toContain(password);
    },
  );

  it('a database no daemon has used: the reader says so and creates nothing', async () => {
    const url = await freshDatabase();
    const err = await openManifest({ url, folder: 'docs' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ManifestNotFoundError);
    expect((err as Error).message).toContain('the files_sync schema does not exist');
    expect((err as Error).message).not.toContain(decodeURIComponent(new URL(url).password));
    const db = await dbClient(url);
    const { rows } = await db.query(
      "SELECT 1 FROM information_schema.schemata WHERE schema_name = 'files_sync'",
    );
    expect(rows).toHaveLength(0);
  });

  it("the daemon's /v1/lookup serves from its PostgreSQL store", async () => {
    const url = await freshDatabase();
    const p = await makeProject({ files: { 'report.pdf': '%PDF-1.4\n' } });
    await usePostgres(p, url);
    const s = await serve({}, p);
    const res = await s.get('/v1/lookup?folder=docs&path=report.pdf');
    expect(res.status).toBe(200);
    const db = await dbClient(url);
    const { rows } = await db.query<{ file_id: string }>(
      "SELECT file_id FROM files_sync.entries WHERE folder = 'docs' AND path = 'report.pdf'",
    );
    expect(res.json).toMatchObject({
      folder: 'docs',
      path: 'report.pdf',
      fileId: rows[0]!.file_id,
      state: 'synced',
    });
    // The library answers the same for the same path.
    const m = await openManifest({ url, folder: 'docs' });
    expect(m.lookup('report.pdf')).toEqual(res.json);
    await s.stop();
  });
});
