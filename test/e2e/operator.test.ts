/**
 * What an operator sees of a running daemon: one log line per file operation with path and file
 * IDs, the queue-depth gauge back at 0 when work is done, and held deletes released while it runs
 * (`files-sync release-deletes`), or without it.
 */
import { readEventLog } from '../../src/serve/event-log.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeProject, runCli, type Project } from '../helpers/project.js';
import { syncJson } from '../helpers/sync-cli.js';
import { waitFor } from '../helpers/wait.js';
import {
  parseLogLines,
  startDaemon,
  waitForSync,
  type DaemonProcess,
  type LogLine,
} from './daemon-harness.js';

async function metric(url: string, name: string): Promise<string | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return new RegExp(`^${name}\\{folder="docs"\\} (\\S+)$`, 'm').exec(text)?.[1];
}

async function heldInSnapshot(p: Project): Promise<number | undefined> {
  try {
    const s = JSON.parse(await fs.readFile(path.join(p.stateDir, 'status.json'), 'utf8')) as {
      folders: Array<{ heldDeletes: number }>;
    };
    return s.folders[0]?.heldDeletes;
  } catch {
    return undefined;
  }
}

function fileOps(d: DaemonProcess, op: string): LogLine[] {
  return d.logs().filter((l) => l.op === op && l.level === 'info');
}

describe('operating a running daemon', () => {
  it(
    'logs each file operation, returns the queue gauge to 0, and releases held deletes on request',
    { timeout: 180_000 },
    async () => {
      const p = await makeProject({
        files: { 'keep.txt': 'keep\n' },
        // No ID retention: the deletes of a replace and of a release are sent at once.
        config: { safety: { maxDeletes: 0 }, retention: { removedMs: 0, supersededMs: 0 } },
      });
      const daemon = await startDaemon(p, ['--http', '127.0.0.1:0']);
      await waitForSync(p);
      const url = String(
        (await daemon.waitForLog((l) => l.msg === 'status endpoint listening', 'endpoint URL')).url,
      );

      // Changes seen by the watcher: the gauge counts them while queued and is 0 once they are done.
      for (const f of ['a.txt', 'b.txt', 'c.txt']) await p.write(f, `${f}\n`);
      await waitForSync(p);
      await waitFor(async () => (await metric(url, 'files_sync_queue_depth')) === '0', {
        message: 'files_sync_queue_depth back at 0',
      });

      const uploads = await (async () => {
        await daemon.waitForLog((l) => l.op === 'upload' && l.path === 'c.txt', 'upload line of c.txt');
        return fileOps(daemon, 'upload');
      })();
      expect(uploads.map((l) => l.path).sort()).toEqual(['a.txt', 'b.txt', 'c.txt', 'keep.txt']);
      for (const l of uploads)
        expect(l).toMatchObject({ msg: 'uploaded', fileId: expect.stringMatching(/^file_/) });

      await p.write('a.txt', 'a, changed\n');
      const replaced = await daemon.waitForLog((l) => l.op === 'replace', 'replace line');
      expect(replaced).toMatchObject({ path: 'a.txt', fileId: expect.stringMatching(/^file_/) });
      expect(replaced.oldFileId).toBe(uploads.find((l) => l.path === 'a.txt')!.fileId);

      // With safety.maxDeletes 0 the guard holds every delete...
      for (const f of ['keep.txt', 'a.txt', 'b.txt', 'c.txt']) await p.remove(f);
      await waitFor(async () => ((await heldInSnapshot(p)) ?? 0) > 0, {
        message: 'the daemon holds deletes',
      });
      expect(p.emulator.files()).toHaveLength(4);
      const warning = daemon.logs().find((l) => String(l.msg).startsWith('deletes held by the safety guard'));
      expect(String(warning?.reason)).toMatch(/files-sync release-deletes/);

      // ...until they are released, without stopping the daemon (it holds the lock).
      const r = await runCli(['release-deletes', '-c', p.configPath], { env: p.env });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('docs: released; deleted 4 remote files\n');
      expect(p.emulator.files()).toHaveLength(0);
      const queued = await daemon.waitForLog((l) => l.op === 'delete', 'delete line');
      expect(queued).toMatchObject({
        msg: 'removed locally; remote copy queued for deletion',
        fileId: expect.stringMatching(/^file_/),
      });
      const sent = await daemon.waitForLog((l) => l.msg === 'deleted remote file', 'sent delete line');
      expect(sent.fileId).toMatch(/^file_/);
      await waitFor(async () => (await heldInSnapshot(p)) === 0, { message: 'snapshot shows 0 held' });

      // The endpoint acts only for who can read the token in the state directory.
      const forged = await fetch(`${url}/v1/release-deletes`, {
        method: 'POST',
        headers: { authorization: 'Bearer guessed' },
      });
      expect(forged.status).toBe(401);
      const unknown = await runCli(['release-deletes', '-c', p.configPath, '--json'], { env: p.env });
      expect(unknown.code).toBe(0);
      expect(JSON.parse(unknown.stdout)).toEqual([
        { name: 'docs', status: 'ok', deleted: 0, failed: 0, heldDeletes: 0 },
      ]);
      expect((await daemon.stop()).code).toBe(0);
      await expect(fs.stat(path.join(p.stateDir, 'control.json'))).rejects.toThrow(/ENOENT/);
    },
  );

  // Several CLI runs each: allowed the time a loaded 2-core machine needs to start them.
  it('status says "not synced yet", then shows the last one-off sync', { timeout: 180_000 }, async () => {
    const p = await makeProject({ files: { 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c' } });
    const before = await runCli(['status', '-c', p.configPath], { env: p.env });
    expect(before.stdout).toBe(
      `daemon not running\ndocs (${p.folder}): not synced yet (run \`files-sync sync\` or start the daemon)\n`,
    );
    await syncJson(p);
    // For cron users: status shows the last one-off sync.
    const after = await runCli(['status', '-c', p.configPath], { env: p.env });
    expect(after.stdout).toMatch(
      /^last one-off sync \d{4}-\S+Z: ok \(3 up, 0 replaced, 0 del, 0 failed; [\d.]+ s\)$/m,
    );
    const json = JSON.parse(
      (await runCli(['status', '-c', p.configPath, '--json'], { env: p.env })).stdout,
    ) as {
      lastSync: { result: string; folders: unknown[] };
    };
    expect(json.lastSync).toMatchObject({
      result: 'ok',
      folders: [{ name: 'docs', status: 'ok', uploaded: 3 }],
    });
  });

  it(
    'a full pass logs a move with its file ID; release-deletes without a daemon syncs with the guards off',
    { timeout: 180_000 },
    async () => {
      const p = await makeProject({ files: { 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c' } });
      await syncJson(p);
      // A full pass pairs a rename into a move: logged with the file ID it keeps.
      await fs.mkdir(path.join(p.folder, 'sub'));
      await fs.rename(path.join(p.folder, 'c.txt'), path.join(p.folder, 'sub', 'c.txt'));
      const renamed = await syncJson(p);
      const moved = parseLogLines(renamed.stderr).find((l) => l.op === 'move');
      expect(moved).toMatchObject({ msg: 'moved', from: 'c.txt', to: 'sub/c.txt' });
      expect(moved!.fileId).toBe(p.emulator.files().find((f) => f.filename === 'c.txt')?.id);
      for (const f of ['a.txt', 'b.txt', 'sub']) await p.remove(f);
      const held = await syncJson(p);
      expect(held.reports[0]).toMatchObject({ heldDeletes: 3 });
      const r = await runCli(['release-deletes', '-c', p.configPath], { env: p.env });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('docs: released; deleted 3 remote files\n');
      expect(p.emulator.files()).toHaveLength(0);
      // The deletes are in the event log a consumer follows, as if the daemon had made them.
      const deleted = (await readEventLog(p.stateDir)).filter((e) => e.type === 'deleted');
      expect(deleted.map((e) => e.path).sort()).toEqual(['a.txt', 'b.txt', 'sub/c.txt']);
      expect(deleted.every((e) => typeof e.fileId === 'string' && e.fileId.startsWith('file_'))).toBe(true);
      const last = await runCli(['status', '-c', p.configPath], { env: p.env });
      expect(last.stdout).toMatch(
        /^last one-off sync \S+: ok \(0 up, 0 replaced, 0 del, 0 failed, 3 deletes held;/m,
      );
    },
  );
});
