/** The durable change log: numbering across reopen, bounded size with compaction, torn lines, following (by offset, across rotation). */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventLog, eventLogPath, followEventLog, readEventLog } from '../../src/serve/event-log.js';
import type { ChangeInput } from '../../src/serve/change-events.js';
import { onCleanup } from '../helpers/cleanup.js';
import { waitFor } from '../helpers/wait.js';

async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'files-sync-events-'));
  onCleanup(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

const change = (p: string, folder = 'docs'): ChangeInput => ({
  type: 'uploaded',
  folder,
  path: p,
  fileId: `file_${p}`,
  previousFileId: null,
  time: new Date().toISOString(),
});

describe('EventLog', () => {
  it('keeps numbering across reopen and stays bounded by compaction', async () => {
    const dir = await tempDir();
    let log = await EventLog.open(dir, { keep: 5 });
    for (let i = 1; i <= 7; i++) log.record(change(`f${i}`));
    await log.close();
    log = await EventLog.open(dir, { keep: 5 });
    expect(log.lastId).toBe(7);
    expect(log.since(0).events.map((e) => e.id)).toEqual([3, 4, 5, 6, 7]);
    expect(log.since(0).gap).toBe(true);
    expect(log.since(2).gap).toBe(false);
    expect(log.since(5)).toEqual({ events: [log.since(0).events[3], log.since(0).events[4]], gap: false });
    for (let i = 8; i <= 30; i++) log.record(change(`f${i}`));
    await log.flush();
    const onDisk = (await fs.readFile(eventLogPath(dir), 'utf8')).trim().split('\n');
    // Compacted whenever the file reaches twice the kept count.
    expect(onDisk.length).toBeLessThan(10);
    expect((await readEventLog(dir)).at(-1)!.id).toBe(30);
    expect((await fs.stat(eventLogPath(dir))).mode & 0o777).toBe(0o600);
    await log.close();
  });

  it('drops a torn last line left by a crash and refuses to append through a symlink', async () => {
    const dir = await tempDir();
    const log = await EventLog.open(dir);
    log.record(change('a'));
    log.record(change('b'));
    await log.close();
    await fs.appendFile(eventLogPath(dir), '{"id":3,"type":"upl');
    const again = await EventLog.open(dir);
    expect(again.lastId).toBe(2);
    expect(again.record(change('c')).id).toBe(3);
    await again.close();
    expect((await readEventLog(dir)).map((e) => e.path)).toEqual(['a', 'b', 'c']);

    const other = await tempDir();
    const target = path.join(other, 'elsewhere');
    await fs.writeFile(target, '');
    const linked = await tempDir();
    await fs.symlink(target, eventLogPath(linked));
    await expect(EventLog.open(linked)).rejects.toThrow();
    expect(await fs.readFile(target, 'utf8')).toBe('');
  });

  it('follows the file: what is there, then new events, filtered by folder', async () => {
    const dir = await tempDir();
    const log = await EventLog.open(dir);
    log.record(change('old'));
    log.record(change('other', 'elsewhere'));
    await log.flush();
    const abort = new AbortController();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const e of followEventLog(dir, {
        folder: 'docs',
        follow: true,
        pollMs: 20,
        signal: abort.signal,
      })) {
        seen.push(e.path!);
        if (seen.length === 2) abort.abort();
      }
    })();
    log.record(change('new'));
    await log.flush();
    await reading;
    expect(seen).toEqual(['old', 'new']);
    await log.close();
  });
});

/** Follows the log in the background, collecting ids; stop() ends it and waits. */
function follower(dir: string): { ids: number[]; stop(): Promise<void> } {
  const abort = new AbortController();
  const ids: number[] = [];
  const done = (async () => {
    for await (const e of followEventLog(dir, { follow: true, pollMs: 10, signal: abort.signal }))
      ids.push(e.id);
  })();
  return {
    ids,
    async stop() {
      abort.abort();
      await done;
    },
  };
}

const line = (id: number, p: string) => `${JSON.stringify({ id, ...change(p) })}\n`;

describe('followEventLog', () => {
  it('reads only what was appended since its last look, and a torn line once it is complete', async () => {
    const dir = await tempDir();
    const file = eventLogPath(dir);
    await fs.writeFile(file, line(1, 'a') + line(2, 'b'));
    const f = follower(dir);
    onCleanup(() => f.stop());
    await waitFor(() => f.ids.length === 2, { message: () => `ids ${f.ids.join(',')}` });
    // Bytes already read are not read again: an id planted there (same length, same file) stays unseen.
    const text = await fs.readFile(file, 'utf8');
    const handle = await fs.open(file, 'r+');
    await handle.write(text.replace('"id":1,', '"id":9,'), 0);
    await handle.close();
    await fs.appendFile(file, line(3, 'c').slice(0, 20));
    await fs.appendFile(file, line(3, 'c').slice(20));
    await waitFor(() => f.ids.length === 3, { message: () => `ids ${f.ids.join(',')}` });
    await f.stop();
    expect(f.ids).toEqual([1, 2, 3]);
  });

  it('follows the bounded log across compactions (file replaced) without losing or repeating an event', async () => {
    const dir = await tempDir();
    const log = await EventLog.open(dir, { keep: 3 });
    onCleanup(() => log.close());
    const f = follower(dir);
    onCleanup(() => f.stop());
    const inodes = new Set<number>();
    for (let id = 1; id <= 20; id++) {
      log.record(change(`f${id}`));
      await log.flush();
      inodes.add((await fs.stat(eventLogPath(dir))).ino);
      // The follower keeps up (a reader more than `keep` events behind a compaction loses events by design).
      await waitFor(() => f.ids.length === id, { message: () => `ids ${f.ids.join(',')} at ${id}` });
    }
    await f.stop();
    expect(f.ids).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // Compaction did replace the file (several inodes), so the follower did start over several times.
    expect(inodes.size).toBeGreaterThan(1);
  });

  it('starts over when the file is truncated or rewritten in place, yielding only unseen ids', async () => {
    const dir = await tempDir();
    const file = eventLogPath(dir);
    await fs.writeFile(file, line(1, 'a') + line(2, 'b') + line(3, 'c'));
    const f = follower(dir);
    onCleanup(() => f.stop());
    await waitFor(() => f.ids.length === 3, { message: () => `ids ${f.ids.join(',')}` });
    // Truncated in place (same inode), then shorter content with one new event.
    await fs.truncate(file, 0);
    await fs.appendFile(file, line(3, 'c') + line(4, 'd'));
    await waitFor(() => f.ids.length === 4, { message: () => `ids ${f.ids.join(',')}` });
    // Rewritten in place to a longer file whose bytes before the old offset changed.
    await fs.writeFile(file, line(2, 'bb') + line(3, 'cc') + line(4, 'dd') + line(5, 'e') + line(6, 'f'));
    await waitFor(() => f.ids.length === 6, { message: () => `ids ${f.ids.join(',')}` });
    await f.stop();
    expect(f.ids).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
