/** GET /v1/events: live changes as SSE, the folder filter, resuming from the durable log after a restart, the cap. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStream, serve } from './support.js';
import { waitFor } from '../helpers/wait.js';
import { readEventLog } from '../../src/serve/event-log.js';

describe('GET /v1/events', () => {
  it('streams uploaded, replaced, moved and deleted with ids that only grow', async () => {
    const s = await serve({ files: { 'seed.txt': 'seed\n' } });
    const stream = await openStream(s.url);
    expect(stream.status).toBe(200);
    await s.project.write('a/report.txt', 'v1\n');
    await waitFor(() => stream.events.some((e) => e.type === 'uploaded' && e.path === 'a/report.txt'), {
      message: 'uploaded event',
    });
    const uploaded = stream.events.find((e) => e.path === 'a/report.txt')!;
    await s.project.write('a/report.txt', 'v2, longer\n');
    await waitFor(() => stream.events.some((e) => e.type === 'replaced'), { message: 'replaced event' });
    const replaced = stream.events.find((e) => e.type === 'replaced')!;
    expect(replaced).toMatchObject({ folder: 'docs', path: 'a/report.txt', previousFileId: uploaded.fileId });
    expect(replaced.fileId).not.toBe(uploaded.fileId);
    // Same content and basename at a new path: a move keeps the file ID.
    await fs.mkdir(path.join(s.project.folder, 'b'));
    await fs.rename(path.join(s.project.folder, 'a/report.txt'), path.join(s.project.folder, 'b/report.txt'));
    await waitFor(() => stream.events.some((e) => e.type === 'moved'), { message: 'moved event' });
    expect(stream.events.find((e) => e.type === 'moved')).toMatchObject({
      path: 'b/report.txt',
      fromPath: 'a/report.txt',
      fileId: replaced.fileId,
    });
    await s.project.remove('seed.txt');
    await waitFor(() => stream.events.some((e) => e.type === 'deleted'), { message: 'deleted event' });
    expect(stream.events.find((e) => e.type === 'deleted')).toMatchObject({ path: 'seed.txt' });
    const ids = stream.events.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(ids.length);
    for (const e of stream.events) expect(Date.parse(e.time)).not.toBeNaN();
    stream.close();
  });

  it('resumes from Last-Event-ID after a daemon restart, and says reset when the log cannot', async () => {
    const s = await serve({ files: { 'one.txt': '1\n', 'two.txt': '2\n', 'three.txt': '3\n' } });
    await waitFor(async () => (await readEventLog(s.project.stateDir)).length >= 3, {
      message: 'events on disk',
    });
    const logged = await readEventLog(s.project.stateDir);
    expect(logged.map((e) => e.id)).toEqual([1, 2, 3]);
    const mode = (await fs.stat(path.join(s.project.stateDir, 'events.log'))).mode & 0o777;
    expect(mode).toBe(0o600);

    await s.restart();
    const resumed = await openStream(s.url, '', { 'last-event-id': '1' });
    await waitFor(() => resumed.events.length >= 2, { message: 'replayed events' });
    expect(resumed.events.map((e) => e.id)).toEqual([2, 3]);
    expect(resumed.names).not.toContain('reset');
    // New events continue the numbering across the restart.
    await s.project.write('four.txt', '4\n');
    await waitFor(() => resumed.events.length >= 3, { message: 'live event after replay' });
    expect(resumed.events[2]).toMatchObject({ id: 4, path: 'four.txt', type: 'uploaded' });
    resumed.close();

    // An id this log never had (the log was removed meanwhile): the client is told to start over.
    const ahead = await openStream(s.url, '?lastEventId=999');
    await waitFor(() => ahead.names.includes('reset'), { message: 'reset event' });
    ahead.close();
    const bad = await openStream(s.url, '', { 'last-event-id': 'abc' });
    expect(bad.status).toBe(400);
  });

  it('filters by ?folder and refuses an unknown folder', async () => {
    const s = await serve({ files: { 'x.txt': 'x\n' } });
    const other = path.join(s.project.dir, 'other');
    await fs.mkdir(other);
    // A second folder, added to the config and picked up by restarting the in-process daemon.
    const config = JSON.parse(await fs.readFile(s.project.configPath, 'utf8')) as { folders: unknown[] };
    config.folders.push({ name: 'other', path: other });
    await fs.writeFile(s.project.configPath, JSON.stringify(config));
    await s.restart();
    const onlyOther = await openStream(s.url, '?folder=other');
    const all = await openStream(s.url);
    await s.project.write('y.txt', 'y\n');
    await fs.writeFile(path.join(other, 'z.txt'), 'z\n');
    await waitFor(() => all.events.length >= 2 && onlyOther.events.length >= 1, { message: 'both events' });
    expect(onlyOther.events.every((e) => e.folder === 'other')).toBe(true);
    expect(onlyOther.events[0]).toMatchObject({ path: 'z.txt' });
    const bad = await openStream(s.url, '?folder=nope');
    expect(bad.status).toBe(400);
    onlyOther.close();
    all.close();
  });

  it('caps concurrent streams at 64 with a JSON 503, and keeps syncing', async () => {
    const s = await serve();
    const streams = await Promise.all(Array.from({ length: 64 }, () => openStream(s.url)));
    expect(streams.every((x) => x.status === 200)).toBe(true);
    const extra = await openStream(s.url);
    expect(extra.status).toBe(503);
    await waitFor(() => extra.body().includes('too many event streams'), { message: '503 body' });
    await s.project.write('still.txt', 'still\n');
    await waitFor(() => streams.every((x) => x.events.length === 1), {
      message: 'every stream got the event',
    });
    for (const x of streams) x.close();
    // Closed streams free their slots.
    await waitFor(
      async () => {
        const again = await openStream(s.url);
        again.close();
        return again.status === 200;
      },
      { message: 'a slot again' },
    );
  });
});
