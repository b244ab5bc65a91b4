/** GET /v1/lookup against an in-process daemon and the emulator: shape, blocks, states, wait, bad input. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { serve } from './support.js';
import { waitFor } from '../helpers/wait.js';

describe('GET /v1/lookup', () => {
  it('answers a synced path with its ID, metadata, state and the Messages block for its type', async () => {
    const s = await serve({
      files: {
        'contracts/acme.pdf': '%PDF-1.4 fake\n',
        'notes.txt': 'plain\n',
        'pic.png': 'not really a png',
        'readme.md': '# md\n',
        'data.bin': 'x',
      },
    });
    const r = await s.get('/v1/lookup?folder=docs&path=contracts/acme.pdf');
    expect(r.status).toBe(200);
    const entry = s.daemon.folders.get('docs')!.lookupView()!.manifest.get('contracts/acme.pdf')!;
    expect(r.json).toEqual({
      folder: 'docs',
      path: 'contracts/acme.pdf',
      fileId: entry.fileId,
      sha256: entry.sha256,
      sizeBytes: 14,
      mimeType: 'application/pdf',
      uploadedAt: entry.uploadedAt,
      state: 'synced',
      previous: [],
      block: { type: 'document', source: { type: 'file', file_id: entry.fileId } },
    });
    const block = async (p: string) =>
      (await s.get(`/v1/lookup?folder=docs&path=${p}`)).json.block as { type: string };
    expect((await block('notes.txt')).type).toBe('document');
    expect((await block('pic.png')).type).toBe('image');
    expect((await block('readme.md')).type).toBe('container_upload');
    expect((await block('data.bin')).type).toBe('container_upload');
    // The same file by absolute path, with and without the folder named.
    const abs = path.join(s.project.folder, 'notes.txt');
    const byAbs = await s.get(`/v1/lookup?path=${encodeURIComponent(abs)}`);
    expect(byAbs.status).toBe(200);
    expect(byAbs.json.path).toBe('notes.txt');
    expect((await s.get(`/v1/lookup?folder=docs&path=${encodeURIComponent(abs)}`)).status).toBe(200);
    // The old endpoints are still there.
    expect((await s.get('/healthz')).status).toBe(200);
    expect((await s.get('/status')).status).toBe(200);
    expect((await s.get('/metrics')).status).toBe(200);
  });

  it('lists the earlier ID of an edited file under previous, with until, while its retention lasts', async () => {
    const s = await serve({
      config: { retention: { supersededMs: 600_000, removedMs: 0 } },
      files: { 'report.txt': 'first\n' },
    });
    const before = await s.get('/v1/lookup?folder=docs&path=report.txt');
    expect(before.json.previous).toEqual([]);
    const oldId = before.json.fileId as string;
    const editedAt = Date.now();
    await s.project.write('report.txt', 'second version\n');
    await waitFor(
      async () => {
        const r = await s.get('/v1/lookup?folder=docs&path=report.txt');
        return r.json.fileId !== oldId && r.json.state === 'synced';
      },
      { message: 'edit uploaded' },
    );
    const after = await s.get('/v1/lookup?folder=docs&path=report.txt');
    const previous = after.json.previous as { fileId: string; until: string }[];
    expect(previous.map((p) => p.fileId)).toEqual([oldId]);
    expect(Object.keys(previous[0]!).sort()).toEqual(['fileId', 'until']);
    // Kept for supersededMs from the replacement: a consumer holding oldId may use it until then.
    const until = Date.parse(previous[0]!.until);
    expect(until).toBeGreaterThanOrEqual(editedAt + 600_000 - 1_000);
    expect(until).toBeLessThanOrEqual(Date.now() + 600_000 + 1_000);
    // The old ID is still alive remotely, as previous promises.
    expect(s.project.emulator.files().map((f) => f.id)).toContain(oldId);
  });

  it('says 404 for an unknown path, 400 outside every folder, and names the field for bad input', async () => {
    const s = await serve({ files: { 'a.txt': 'a\n' } });
    const unknown = await s.get('/v1/lookup?folder=docs&path=nope.txt');
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ folder: 'docs', path: 'nope.txt', state: 'unknown' });
    expect(String(unknown.json.error)).toMatch(/not synced/);

    const cases: Array<[string, number, RegExp]> = [
      ['/v1/lookup?path=/etc/passwd', 400, /outside every configured folder/],
      ['/v1/lookup?folder=docs&path=../a.txt', 400, /"\.\."/],
      ['/v1/lookup?folder=docs&path=x/../../a.txt', 400, /"\.\."/],
      [`/v1/lookup?path=${encodeURIComponent(s.project.folder)}/../state/x`, 400, /"\.\."/],
      ['/v1/lookup?folder=docs&path=a%00.txt', 400, /NUL/],
      ['/v1/lookup?folder=docs&path=%FF%FE', 400, /not UTF-8/],
      ['/v1/lookup?folder=docs&path=%zz', 400, /malformed percent-escape/],
      ['/v1/lookup?folder=docs&path=a.txt&wait=301', 400, /wait: expected seconds from 0 to 300/],
      ['/v1/lookup?folder=docs&path=a.txt&wait=1e9', 400, /wait/],
      ['/v1/lookup?folder=docs&path=a.txt&wait=-1', 400, /wait/],
      ['/v1/lookup?folder=docs&path=a.txt&path=b.txt', 400, /given twice/],
      ['/v1/lookup?folder=docs&file=a.txt', 400, /unknown query parameter "file"/],
      ['/v1/lookup?folder=nope&path=a.txt', 400, /no running folder/],
      ['/v1/lookup?folder=docs', 400, /path is missing/],
      ['/v1/lookup?folder=docs&path=a//b', 400, /empty or "\." segment/],
      [`/v1/lookup?folder=docs&path=${'x'.repeat(9000)}`, 414, /longer than/],
      ['/v1/nothing', 404, /no route/],
    ];
    for (const [url, status, message] of cases) {
      const r = await s.get(url);
      expect({ url: url.slice(0, 80), status: r.status }).toEqual({ url: url.slice(0, 80), status });
      expect(String(r.json.error)).toMatch(message);
    }
    // Still syncing after all that.
    await s.project.write('after.txt', 'after\n');
    await waitFor(async () => (await s.get('/v1/lookup?folder=docs&path=after.txt')).status === 200, {
      message: 'after.txt synced',
    });
  });

  it('with ?wait answers once an edit made just before the call is uploaded', async () => {
    const s = await serve({ files: { 'doc.txt': 'version 1\n' } });
    const before = (await s.get('/v1/lookup?folder=docs&path=doc.txt')).json;
    // No pause: the watcher may not even have seen the edit when the request arrives.
    await fs.writeFile(path.join(s.project.folder, 'doc.txt'), 'version 2, longer\n');
    const r = await s.get('/v1/lookup?folder=docs&path=doc.txt&wait=60');
    expect(r.status).toBe(200);
    expect(r.json.state).toBe('synced');
    expect(r.json.fileId).not.toBe(before.fileId);
    expect(r.json.sizeBytes).toBe(18);
    // A new file works the same way: 404 pending without wait, 200 once uploaded.
    await s.project.write('fresh.txt', 'fresh\n');
    const waited = await s.get('/v1/lookup?folder=docs&path=fresh.txt&wait=60');
    expect(waited.status).toBe(200);
    expect(waited.json.state).toBe('synced');
  });

  it('answers 408 with the current state when the path is still pending after wait', async () => {
    // Watching off and no periodic reconciliation: an edit stays pending.
    const s = await serve({ files: { 'doc.txt': 'one\n' }, config: { watch: { enabled: false } } });
    await fs.writeFile(path.join(s.project.folder, 'doc.txt'), 'two, edited\n');
    const immediate = await s.get('/v1/lookup?folder=docs&path=doc.txt');
    expect(immediate.status).toBe(200);
    expect(immediate.json.state).toBe('pending');
    expect(immediate.json.reason).toMatch(/changed locally/);
    const started = Date.now();
    const r = await s.get('/v1/lookup?folder=docs&path=doc.txt&wait=1');
    expect(r.status).toBe(408);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(r.json).toMatchObject({ folder: 'docs', path: 'doc.txt', state: 'pending' });
    expect(String(r.json.error)).toMatch(/still pending after 1 s/);
  });

  it('reports a path whose last operation failed as failed, with the reason, until it succeeds', async () => {
    const s = await serve({ files: { 'ok.txt': 'ok\n' } });
    const entry = s.daemon.folders.get('docs')!.lookupView()!.manifest.get('ok.txt')!;
    const local = { path: 'ok.txt', size: 3, mtimeMs: 0, ino: 0, sha256: entry.sha256 };
    const op = { kind: 'replace' as const, path: 'ok.txt', local, oldFileId: entry.fileId };
    // The outcome the executor reports for an upload the API refused for good.
    s.daemon.serve!.onOutcome('docs', { op, status: 'failed', error: 'HTTP 400: file type not allowed' });
    const r = await s.get('/v1/lookup?folder=docs&path=ok.txt&wait=5');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      state: 'failed',
      reason: 'HTTP 400: file type not allowed',
      fileId: entry.fileId,
    });
    s.daemon.serve!.onOutcome('docs', { op, status: 'done', fileId: entry.fileId });
    expect((await s.get('/v1/lookup?folder=docs&path=ok.txt')).json.state).toBe('synced');
  });
});
