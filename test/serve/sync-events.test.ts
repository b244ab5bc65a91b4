/** `files-sync sync` records its changes in the daemon's durable event log, so followers see them too. */
import { describe, expect, it } from 'vitest';
import { makeProject, runCli } from '../helpers/project.js';
import { waitFor } from '../helpers/wait.js';
import { readEventLog } from '../../src/serve/event-log.js';
import { openStream, serve } from './support.js';

describe('files-sync sync and the event log', () => {
  it('records uploaded, replaced and deleted; a dry run records nothing; the daemon continues the numbering', async () => {
    const project = await makeProject({ files: { 'a.txt': 'a\n', 'b.txt': 'b\n' } });
    const sync = async (...args: string[]) => {
      const r = await runCli(['sync', '-c', project.configPath, ...args], { env: project.env });
      expect(r.code, r.stderr).toBe(0);
    };
    await sync();
    const first = await readEventLog(project.stateDir);
    // Numbered in the order the uploads finished, which is either.
    expect(first.map((e) => e.id)).toEqual([1, 2]);
    expect(first.map((e) => [e.type, e.path]).sort()).toEqual([
      ['uploaded', 'a.txt'],
      ['uploaded', 'b.txt'],
    ]);
    const idOfA = first.find((e) => e.path === 'a.txt')!.fileId;
    expect(idOfA).toMatch(/^file_/);

    await project.write('a.txt', 'a, edited\n');
    await project.remove('b.txt');
    await sync('--dry-run');
    expect(await readEventLog(project.stateDir)).toHaveLength(2);
    await sync();
    const second = (await readEventLog(project.stateDir)).slice(2);
    expect(second.map((e) => e.id).sort()).toEqual([3, 4]);
    expect(second.find((e) => e.path === 'a.txt')).toMatchObject({
      type: 'replaced',
      previousFileId: idOfA,
    });
    expect(second.find((e) => e.path === 'b.txt')).toMatchObject({
      type: 'deleted',
      fileId: first.find((e) => e.path === 'b.txt')!.fileId,
    });

    // A consumer of the daemon's stream replays what sync recorded, then hears the daemon's own changes.
    const s = await serve({}, project);
    const stream = await openStream(s.url, '', { 'last-event-id': '0' });
    await waitFor(() => stream.events.length >= 4, { message: () => `events ${stream.body()}` });
    await project.write('c.txt', 'c\n');
    await waitFor(() => stream.events.length >= 5, { message: 'the daemon’s event after sync’s' });
    expect(stream.events.map((e) => e.id)).toEqual([1, 2, 3, 4, 5]);
    expect(stream.events[4]).toMatchObject({ type: 'uploaded', path: 'c.txt' });
    stream.close();
  }, 120_000);
});
