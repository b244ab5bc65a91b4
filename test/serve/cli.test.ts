/** `files-sync id --block/--json/--wait` through the daemon and without it, `files-sync events`, `run --http` checks, the library. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeProject, runCli, type Project } from '../helpers/project.js';
import { serve } from './support.js';
import { waitFor } from '../helpers/wait.js';
import { openManifest, readEventLog } from '../../src/index.js';
import type { ChangeEvent } from '../../src/serve/change-events.js';

/** A project whose config points the CLI at the daemon's Unix socket; watching off, so an edit stays pending. */
async function socketProject(files: Record<string, string>): Promise<{ project: Project; sock: string }> {
  const project = await makeProject({ files });
  const sock = path.join(project.dir, 'api.sock');
  const config = JSON.parse(await fs.readFile(project.configPath, 'utf8')) as Record<string, unknown>;
  await fs.writeFile(
    project.configPath,
    JSON.stringify({ ...config, watch: { enabled: false }, http: { listen: `unix:${sock}` } }),
  );
  return { project, sock };
}

describe('files-sync id and events', () => {
  it('id asks the running daemon (live state, --block, --json, --wait), and reads the manifest without it', async () => {
    const { project, sock } = await socketProject({ 'report.pdf': '%PDF-1.4\n', 'note.txt': 'n\n' });
    const s = await serve({ listen: `unix:${sock}` }, project);
    const abs = path.join(project.folder, 'report.pdf');
    const cli = (...args: string[]) =>
      runCli(['id', abs, '-c', project.configPath, ...args], { env: project.env });

    const plain = await cli();
    expect(plain.code).toBe(0);
    const fileId = plain.stdout.trim();
    expect(fileId).toMatch(/^file_/);
    const block = await cli('--block');
    expect(JSON.parse(block.stdout)).toEqual({ type: 'document', source: { type: 'file', file_id: fileId } });

    // Only the daemon can know that the file changed and is not uploaded yet (watching is off here).
    await fs.writeFile(abs, '%PDF-1.4 edited\n');
    const live = await cli('--json');
    expect(live.code).toBe(0);
    expect(JSON.parse(live.stdout)).toMatchObject({
      fileId,
      state: 'pending',
      path: 'report.pdf',
      folder: 'docs',
    });
    const waited = await cli('--wait', '1');
    expect(waited.code).toBe(75);
    expect(waited.stderr).toMatch(/still pending after 1 s/);
    const badWait = await cli('--wait', '301');
    expect(badWait.code).toBe(64);
    expect(badWait.stderr).toMatch(/--wait: expected whole seconds from 0 to 300/);

    // The fast path: straight to the daemon by absolute path, no config read.
    const direct = await runCli(['id', abs, '--http', `unix:${sock}`, '--block'], { env: project.env });
    expect(direct.code).toBe(0);
    expect(JSON.parse(direct.stdout)).toEqual(JSON.parse(block.stdout));
    const directMissing = await runCli(
      ['id', path.join(project.folder, 'nope.txt'), '--http', `unix:${sock}`],
      {
        env: project.env,
      },
    );
    expect(directMissing.code).toBe(1);
    expect(directMissing.stderr).toBe(`files-sync: nope.txt is not synced in folder "docs"\n`);
    // With -c, the fast path takes the address from the config file's http.listen.
    const configMissing = await runCli(
      ['id', path.join(project.folder, 'nope.txt'), '-c', project.configPath],
      {
        env: project.env,
      },
    );
    expect(configMissing.code).toBe(1);
    expect(configMissing.stderr).toMatch(/nope\.txt is not synced in folder "docs"/);

    await s.stop();
    // No daemon at --http: the full command reads the config and the manifest.
    const fallback = await cli('--http', `unix:${sock}`);
    expect(fallback.code).toBe(0);
    expect(fallback.stdout.trim()).toBe(fileId);
    const offline = await cli('--json', '--wait', '5');
    expect(offline.code).toBe(0);
    // From the manifest alone: the last upload, synced as far as the manifest knows.
    expect(JSON.parse(offline.stdout)).toMatchObject({ fileId, state: 'synced' });
    expect(offline.stderr).toMatch(/--wait needs the running daemon/);
    const missing = await runCli(['id', path.join(project.folder, 'nope.txt'), '-c', project.configPath], {
      env: project.env,
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.txt is not synced in folder "docs"/);
  }, 240_000);

  it('events prints the change log, by folder and since an id, as text or JSON lines', async () => {
    const s = await serve({ files: { 'a.txt': 'a\n', 'b.txt': 'b\n' } });
    await s.project.write('a.txt', 'a, edited\n');
    await waitFor(async () => (await s.get('/v1/lookup?folder=docs&path=a.txt')).json.sizeBytes === 10, {
      message: 'edit uploaded',
    });
    await s.daemon.serve!.log.flush();
    const events = (...args: string[]) =>
      runCli(['events', '-c', s.project.configPath, ...args], { env: s.project.env });
    const json = await events('--json');
    expect(json.code).toBe(0);
    const lines = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ChangeEvent);
    expect(lines.map((e) => e.type).sort()).toEqual(['replaced', 'uploaded', 'uploaded']);
    const since = await events('--json', '--since', String(lines[1]!.id), '--folder', 'docs');
    expect(since.stdout.trim().split('\n')).toHaveLength(1);
    const text = await events();
    expect(text.stdout).toMatch(/\treplaced\tdocs:a\.txt\tfile_\S+ \(was file_\S+\)/);
    const bad = await events('--since', 'yesterday');
    expect(bad.code).toBe(64);
    const unknown = await events('--folder', 'nope');
    expect(unknown.code).not.toBe(0);
  }, 120_000);

  it('run refuses a malformed --http (64); a non-loopback one without a token is in run-flags (78)', async () => {
    const project = await makeProject();
    const malformed = await runCli(['run', '-c', project.configPath, '--http', 'nonsense'], {
      env: project.env,
    });
    expect(malformed.code).toBe(64);
  });

  it('the library looks a path up in the HTTP shape and iterates changes', async () => {
    const s = await serve({ files: { 'img.png': 'png', 'doc.txt': 'doc\n' } });
    const m = await openManifest(s.project.stateDir, 'docs');
    const found = m.lookup('img.png')!;
    expect(found).toMatchObject({ folder: 'docs', path: 'img.png', state: 'synced', previous: [] });
    expect(found.block).toEqual({ type: 'image', source: { type: 'file', file_id: found.fileId } });
    expect(m.lookup(path.join(s.project.folder, 'doc.txt'))?.block.type).toBe('document');
    expect(m.lookup('nope')).toBeUndefined();

    await s.daemon.serve!.log.flush();
    const after = (await readEventLog(s.project.stateDir)).at(-1)!.id;
    const abort = new AbortController();
    const seen: ChangeEvent[] = [];
    const reading = (async () => {
      for await (const e of m.changes({ after, signal: abort.signal, pollMs: 20 })) {
        seen.push(e);
        abort.abort();
      }
    })();
    await s.project.write('doc.txt', 'doc, edited\n');
    await reading;
    expect(seen[0]).toMatchObject({
      type: 'replaced',
      path: 'doc.txt',
      previousFileId: m.lookup('doc.txt')!.fileId,
    });
  });
});
