// `files-sync state migrate` both ways: the folder keeps every file ID and the next sync on the new backend uploads nothing.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { onCleanup } from '../helpers/cleanup.js';
import { databaseEnv, freshDatabase } from '../helpers/postgres.js';
import { makeProject, runCli } from '../helpers/project.js';
import { syncJson } from '../helpers/sync-cli.js';

async function setBackend(configPath: string, state: Record<string, unknown>): Promise<void> {
  const config = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
  await writeFile(configPath, JSON.stringify({ ...config, state }, null, 2));
}

describe('files-sync state migrate', () => {
  it('lowdb -> postgres -> lowdb without uploading anything again', { timeout: 180_000 }, async () => {
    const url = await freshDatabase();
    const p = await makeProject({ files: { 'a.txt': 'alpha', 'sub/b.md': '# beta', 'c.json': '{}' } });
    const env = { ...p.env, ...databaseEnv(url) };
    const first = await syncJson({ ...p, env });
    expect(first.reports[0]).toMatchObject({ status: 'ok', uploaded: 3 });
    const ids = await runCli(['ls', '-c', p.configPath, '--json'], { env });
    const before = (JSON.parse(ids.stdout) as Array<{ path: string; fileId: string }>).map((r) => [
      r.path,
      r.fileId,
    ]);

    const toPg = await runCli(
      ['state', 'migrate', '--from', 'lowdb', '--to', 'postgres', '-c', p.configPath],
      {
        env,
      },
    );
    expect(toPg.stderr).toBe('');
    expect(toPg.code).toBe(0);
    expect(toPg.stdout).toContain('docs: moved 3 entries');
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    onCleanup(() => db.end());
    const { rows } = await db.query<{ path: string; file_id: string }>(
      "SELECT path, file_id FROM files_sync.entries WHERE folder = 'docs' ORDER BY path",
    );
    expect(rows.map((r) => [r.path, r.file_id])).toEqual(
      [...before].sort((a, b) => a[0]!.localeCompare(b[0]!)),
    );

    // The daemon on the postgres backend finds everything synced: no upload, same IDs.
    await setBackend(p.configPath, { backend: 'postgres' });
    const onPg = await syncJson({ ...p, env });
    expect(onPg.reports[0]).toMatchObject({ status: 'ok', uploaded: 0, replaced: 0, deleted: 0 });
    expect(p.emulator.files()).toHaveLength(3);

    // Back, into an empty state dir (the old lowdb state is left where it was).
    const back = path.join(p.dir, 'state-back');
    const toLowdb = await runCli(
      ['state', 'migrate', '--from', 'postgres', '--to', 'lowdb', '-c', p.configPath, '--state-dir', back],
      { env },
    );
    expect(toLowdb.stderr).toBe('');
    expect(toLowdb.code).toBe(0);
    await setBackend(p.configPath, { backend: 'lowdb' });
    const onLowdb = await syncJson({ ...p, env }, ['--state-dir', back]);
    expect(onLowdb.reports[0]).toMatchObject({ status: 'ok', uploaded: 0, replaced: 0, deleted: 0 });
    const after = await runCli(['ls', '-c', p.configPath, '--json', '--state-dir', back], { env });
    expect(
      (JSON.parse(after.stdout) as Array<{ path: string; fileId: string }>).map((r) => [r.path, r.fileId]),
    ).toEqual(before);
  });

  it(
    'refuses to mix states: a target that already holds the folder is left alone',
    { timeout: 180_000 },
    async () => {
      const url = await freshDatabase();
      const p = await makeProject({ files: { 'a.txt': 'alpha' } });
      const env = { ...p.env, ...databaseEnv(url) };
      expect((await syncJson({ ...p, env })).reports[0]).toMatchObject({ uploaded: 1 });
      const args = ['state', 'migrate', '--from', 'lowdb', '--to', 'postgres', '-c', p.configPath];
      expect((await runCli(args, { env })).code).toBe(0);
      const again = await runCli(args, { env });
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('already holds state');
      expect(again.stderr).not.toContain(new URL(url).password);
    },
  );
});
