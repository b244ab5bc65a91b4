// The sharded manifest's write points: journal appends, snapshots, crashes between them, torn tails, replays and migration.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFile, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entry } from '../helpers/entries.js';
import { ManifestCorruptError } from '../../src/state/errors.js';
import { Manifest, openManifest } from '../../src/state/manifest.js';
import type { ManifestEntry } from '../../src/types.js';
import { shardOf } from '../../src/state/manifest-files.js';

const folder = { name: 'docs', root: '/srv/docs' };
// No timer writes or idle snapshots unless a test asks: each write point is driven explicitly.
const MANUAL = { writeDelayMs: 60_000, maxWriteDelayMs: 60_000, snapshotIdleMs: 3_600_000 };

let dir: string;
let stateDir: string;
let dataDir: string;
const opened: Manifest[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'files-sync-journal-'));
  stateDir = path.join(dir, 'state');
  dataDir = path.join(stateDir, 'docs.manifest.d');
});

afterEach(async () => {
  for (const m of opened.splice(0)) await m.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

async function openTracked(options: Parameters<typeof Manifest.open>[2] = MANUAL): Promise<Manifest> {
  const m = await Manifest.open(stateDir, folder, options);
  opened.push(m);
  return m;
}

/** Leaves a manifest as a killed process would: no close, no final snapshot (its timers are stopped). */
function abandon(m: Manifest): void {
  opened.splice(opened.indexOf(m), 1);
  // close() would snapshot; a crash does not. Stop the timers only, by closing a copy of nothing.
  (m as unknown as { clearTimers(): void }).clearTimers();
}

async function journals(): Promise<string[]> {
  return (await readdir(dataDir)).filter((n) => n.startsWith('journal.')).sort();
}

async function state(from = stateDir): Promise<Record<string, string>> {
  const m = await openManifest(from, 'docs');
  return Object.fromEntries([...m.entries()].map(([k, e]) => [k, e.fileId]));
}

/** A single-file manifest as files-sync wrote it before sharding (v2). */
async function writeV2State(into: string): Promise<{
  v2: { entries: Record<string, ManifestEntry> };
  text: string;
  expected: Record<string, string>;
}> {
  await mkdir(into, { recursive: true });
  const v2 = {
    version: 2,
    folder,
    entries: { 'a.txt': entry('file_a'), 'sub/b.pdf': entry('file_b', { mimeType: 'application/pdf' }) },
    pendingUploads: {},
    pendingDeletes: {
      file_old: {
        fileId: 'file_old',
        path: 'a.txt',
        reason: 'replaced',
        queuedAt: '2026-01-01T00:00:00.000Z',
        notBefore: '2026-01-01T00:10:00.000Z',
      },
    },
    suspects: {},
    unsettled: {},
    stats: { lastReconcileAt: '2026-01-01T00:00:00Z' },
  };
  const text = JSON.stringify(v2);
  await writeFile(path.join(into, 'docs.manifest.json'), text);
  return { v2, text, expected: { 'a.txt': 'file_a', 'sub/b.pdf': 'file_b' } };
}

interface V3State {
  /** path -> file ID, as the state holds it once its journal is replayed. */
  expected: Record<string, string>;
  headText: string;
  /** Shard and journal files by name, as written into `<state>/docs.manifest.d/`. */
  v3Files: Record<string, string>;
  /** The shard file names the head names. */
  names: string[];
}

/**
 * A state as files-sync wrote it before v4: the head, two shards of objects keyed by path, and a
 * journal line not yet folded in.
 */
async function writeV3State(into: string): Promise<V3State> {
  const shards: Array<Record<string, unknown>> = [{}, {}];
  const expected: Record<string, string> = {};
  for (let i = 0; i < 3000; i++) {
    const p = `d${i % 7}/f${i}.txt`;
    shards[shardOf(p, 2)]![p] = entry(
      `file_${i}`,
      i % 2 === 0 ? { expiresAt: '2027-01-01T00:00:00.000Z' } : {},
    );
    expected[p] = `file_${i}`;
  }
  const names = ['entries-0.4.json', 'entries-1.4.json'];
  const v3Files: Record<string, string> = {
    [names[0]!]: JSON.stringify({ version: 3, shard: 0, of: 2, entries: shards[0] }),
    [names[1]!]: JSON.stringify({ version: 3, shard: 1, of: 2, entries: shards[1] }),
    'journal.4.jsonl': `${JSON.stringify([1, ['e', 'd0/f7.txt', entry('file_7b')], ['e', 'd1/f8.txt', null]])}\n`,
  };
  const data = path.join(into, 'docs.manifest.d');
  await mkdir(data, { recursive: true });
  for (const [name, text] of Object.entries(v3Files)) await writeFile(path.join(data, name), text);
  const headText = JSON.stringify({
    version: 3,
    gen: 4,
    folder,
    shards: names,
    journalFrom: 4,
    pendingUploads: {},
    pendingDeletes: {},
    suspects: {},
    unsettled: {},
    stats: { lastReconcileAt: '2026-11-01T00:00:00Z' },
  });
  await writeFile(path.join(into, 'docs.manifest.json'), headText);
  expected['d0/f7.txt'] = 'file_7b';
  delete expected['d1/f8.txt'];
  return { expected, headText, v3Files, names };
}

/** Runs the migrating-writer fixture on the state dir: killed before its `killAt`th disk change (0: never). */
async function runWriter(
  script: string,
  killAt: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  // One process (no tsx wrapper whose child would outlive the kill).
  const child = spawn(process.execPath, ['--import', 'tsx', script, stateDir, String(killAt)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (out += chunk));
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return { code, signal, out };
}

describe('journal write points', () => {
  it('makes a change durable by appending one line, not by rewriting the state', async () => {
    const m = await openTracked();
    for (let i = 0; i < 3000; i++) m.set(`d/f${i}.txt`, entry(`file_${i}`));
    await m.snapshot();
    const headBefore = await stat(m.file);
    const shardsBefore = (await readdir(dataDir)).filter((n) => n.startsWith('entries-')).sort();
    expect(shardsBefore.length).toBe(2);

    m.set('d/f7.txt', entry('file_7b'));
    await m.flush();
    // The head and the shards are untouched; one journal line holds the change.
    expect((await stat(m.file)).mtimeMs).toBe(headBefore.mtimeMs);
    expect((await readdir(dataDir)).filter((n) => n.startsWith('entries-')).sort()).toEqual(shardsBefore);
    const [journal] = await journals();
    const lines = (await readFile(path.join(dataDir, journal!), 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.length).toBeLessThan(600);
    expect((await state())['d/f7.txt']).toBe('file_7b');

    // A snapshot after it rewrites only the shard that changed.
    await m.snapshot();
    const shardsAfter = (await readdir(dataDir)).filter((n) => n.startsWith('entries-')).sort();
    const changed = shardsAfter.filter((n) => !shardsBefore.includes(n));
    expect(changed).toEqual([expect.stringMatching(new RegExp(`^entries-${shardOf('d/f7.txt', 2)}\\.`))]);
    expect(await journals()).toEqual([]);
  });

  it('recovers the changes of a writer killed between journal and snapshot', async () => {
    const m = await openTracked();
    m.set('a.txt', entry('file_a'));
    await m.snapshot();
    m.set('b.txt', entry('file_b'));
    m.remove('a.txt');
    await m.addPendingUpload(
      {
        path: 'c.txt',
        sha256: 'c'.repeat(64),
        size: 1,
        remoteName: 'c.txt',
        startedAt: '2026-01-01T00:00:00Z',
      },
      { durable: true },
    );
    abandon(m);
    expect(await journals()).toHaveLength(1);

    const again = await openTracked();
    expect([...again.paths()]).toEqual(['b.txt']);
    expect(again.pendingUpload('c.txt')?.path).toBe('c.txt');
    // Opening folded the journal into a snapshot.
    expect(await journals()).toEqual([]);
  });

  it('ignores a torn last line (a batch cut short by a crash) and keeps every complete batch', async () => {
    const m = await openTracked();
    m.set('a.txt', entry('file_a'));
    await m.flush();
    abandon(m);
    const [journal] = await journals();
    await appendFile(path.join(dataDir, journal!), '[2,["e","b.txt",{"fileId":"file_b","sha');

    expect(await state()).toEqual({ 'a.txt': 'file_a' });
    const again = await openTracked();
    expect([...again.paths()]).toEqual(['a.txt']);
    // Writing goes on in a new generation, never after the torn line.
    again.set('c.txt', entry('file_c'));
    await again.flush();
    abandon(again);
    expect(await state()).toEqual({ 'a.txt': 'file_a', 'c.txt': 'file_c' });
  });

  it('refuses a journal damaged before its last line, and leaves it as it is', async () => {
    const m = await openTracked();
    m.set('a.txt', entry('file_a'));
    await m.flush();
    m.set('b.txt', entry('file_b'));
    await m.flush();
    abandon(m);
    const [journal] = await journals();
    const file = path.join(dataDir, journal!);
    const text = await readFile(file, 'utf8');
    const damaged = text.replace('"file_a"', '"file_a'); // first line no longer parses
    await writeFile(file, damaged);
    await expect(Manifest.open(stateDir, folder, MANUAL)).rejects.toBeInstanceOf(ManifestCorruptError);
    await expect(openManifest(stateDir, 'docs')).rejects.toThrow(/journal .* is corrupt: line 1/);
    expect(await readFile(file, 'utf8')).toBe(damaged);
  });

  it('replaying a journal twice (a crash after replay, before the snapshot landed) gives the same state', async () => {
    const m = await openTracked();
    m.set('a.txt', entry('file_a'));
    m.set('b.txt', entry('file_b'));
    await m.snapshot();
    m.set('a.txt', entry('file_a2'));
    m.remove('b.txt');
    m.set('b.txt', entry('file_b2'));
    m.remove('a.txt');
    await m.flush();
    abandon(m);
    const crashCopy = path.join(dir, 'crash-copy');
    await cp(stateDir, crashCopy, { recursive: true });

    const first = await openTracked();
    const once = [...first.entries()];
    await first.close();
    opened.splice(opened.indexOf(first), 1);
    // Back to the files as the crash left them, except that the new snapshot's shards now exist too.
    for (const name of await readdir(path.join(crashCopy, 'docs.manifest.d'))) {
      await cp(path.join(crashCopy, 'docs.manifest.d', name), path.join(dataDir, name));
    }
    await cp(path.join(crashCopy, 'docs.manifest.json'), path.join(stateDir, 'docs.manifest.json'));
    const second = await openTracked();
    expect([...second.entries()]).toEqual(once);
    expect(once.map(([k, e]) => [k, e.fileId])).toEqual([['b.txt', 'file_b2']]);
  });

  it('ignores a journal an earlier snapshot already folded in, and a snapshot that died before its head', async () => {
    const m = await openTracked();
    m.set('a.txt', entry('file_a'));
    await m.flush();
    const [oldJournal] = await journals();
    const oldText = await readFile(path.join(dataDir, oldJournal!), 'utf8');
    await m.snapshot();
    m.remove('a.txt');
    await m.snapshot();
    await m.close();
    opened.splice(opened.indexOf(m), 1);
    // A crash between "head written" and "old journal removed" leaves the folded journal behind,
    // and a crash mid-snapshot leaves shard files no head names.
    await writeFile(path.join(dataDir, oldJournal!), oldText);
    await writeFile(path.join(dataDir, 'entries-0.999.json'), '{"version":3,"entries":{"x":1}}');

    expect(await state()).toEqual({});
    const again = await openTracked();
    expect(again.size).toBe(0);
    const names = await readdir(dataDir);
    expect(names).not.toContain(oldJournal);
    expect(names).not.toContain('entries-0.999.json');
  });

  it('survives SIGKILL at random points of a writer that journals and snapshots', async () => {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const script = path.join(here, 'fixtures', 'journal-writer.ts');
    let lastSeen = 0;
    for (let round = 0; round < 4; round++) {
      // One process (no tsx wrapper whose child would outlive the kill).
      const child = spawn(process.execPath, ['--import', 'tsx', script, stateDir, String(round)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.setEncoding('utf8');
      // Kill after it reported some durable batches: somewhere inside appends or snapshots.
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: string) => {
          out += chunk;
          if ((out.match(/durable/g) ?? []).length >= 5 + round * 3) {
            child.kill('SIGKILL');
            resolve();
          }
        });
        child.once('exit', (code) =>
          code === null ? resolve() : reject(new Error(`writer exited ${code}`)),
        );
      });
      await new Promise((resolve) =>
        child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once('exit', resolve),
      );
      const durable = [...out.matchAll(/durable (\d+)/g)].map((m) => Number(m[1]));
      const confirmed = Math.max(0, ...durable);
      // Every batch is 100 entries; every confirmed batch is there, and nothing half a batch.
      const m = await openManifest(stateDir, 'docs');
      expect(m.size % 100).toBe(0);
      expect(m.size).toBeGreaterThanOrEqual(lastSeen + confirmed * 100);
      expect(m.size).toBeGreaterThanOrEqual(lastSeen);
      lastSeen = m.size;
    }
    const final = await openTracked();
    expect(final.size).toBe(lastSeen);
  }, 120_000);
});

describe('migration and readers', () => {
  it('migrates a v2 single-file manifest to v4 and keeps the v2 file as a backup', async () => {
    const { v2, text } = await writeV2State(stateDir);
    const m = await openTracked();
    expect(m.get('sub/b.pdf')?.mimeType).toBe('application/pdf');
    expect(m.previousIds('a.txt')).toEqual([
      { fileId: 'file_old', reason: 'replaced', until: '2026-01-01T00:10:00.000Z' },
    ]);
    expect(m.stats()).toEqual({ lastReconcileAt: '2026-01-01T00:00:00Z' });
    const head = JSON.parse(await readFile(m.file, 'utf8')) as { version: number; entries?: unknown };
    expect(head.version).toBe(4);
    expect(head.entries).toBeUndefined();
    expect(await readFile(path.join(stateDir, 'docs.manifest.bak', 'docs.manifest.json'), 'utf8')).toBe(text);
    expect(m.toData().entries).toEqual(v2.entries);
  });

  it('migrates a v3 state (object shards, a journal) to v4 at open; readers read both; v3 files kept as a backup', async () => {
    const { expected, headText, v3Files, names } = await writeV3State(stateDir);

    // Readers (ls, id without the daemon) read the v3 files as they are, and change nothing.
    expect(await state()).toEqual(expected);
    const one = await openManifest(stateDir, 'docs', { onlyPath: 'd2/f2.txt' });
    expect(one.get('d2/f2.txt')).toEqual(entry('file_2', { expiresAt: '2027-01-01T00:00:00.000Z' }));
    expect(await readFile(path.join(stateDir, 'docs.manifest.json'), 'utf8')).toBe(headText);

    const m = await openTracked();
    expect(Object.fromEntries([...m.entries()].map(([k, e]) => [k, e.fileId]))).toEqual(expected);
    expect(m.stats()).toEqual({ lastReconcileAt: '2026-11-01T00:00:00Z' });
    // Rewritten whole as v4 at open: the head, and every shard it names.
    const head = JSON.parse(await readFile(m.file, 'utf8')) as { version: number; shards: string[] };
    expect(head.version).toBe(4);
    expect(head.shards.every((n) => !names.includes(n))).toBe(true);
    for (const name of head.shards)
      expect((await readFile(path.join(dataDir, name), 'utf8')).startsWith('{"version":4,')).toBe(true);
    expect((await readdir(dataDir)).filter((n) => names.includes(n) || n === 'journal.4.jsonl')).toEqual([]);
    // The v3 files stay, exactly, in the backup: a downgrade or a bug report still has them.
    const bak = path.join(stateDir, 'docs.manifest.bak');
    expect(await readFile(path.join(bak, 'docs.manifest.json'), 'utf8')).toBe(headText);
    for (const [name, text] of Object.entries(v3Files))
      expect(await readFile(path.join(bak, 'docs.manifest.d', name), 'utf8')).toBe(text);
    expect(await state(bak)).toEqual(expected);

    // Opened again: the v4 files read back the same, and the backup is now of them.
    await m.close();
    opened.splice(opened.indexOf(m), 1);
    expect(await state()).toEqual(expected);
    await openTracked();
    expect(await state(bak)).toEqual(expected);
  });

  it.each([
    { older: 'a v2 single file', write: writeV2State },
    { older: 'a v3 state (object shards, a journal)', write: writeV3State },
  ])(
    'a migration of $older killed before any one of its disk changes leaves the state whole for readers and the next open',
    async ({ write }) => {
      const script = path.join(
        path.dirname(fileURLToPath(import.meta.url)),
        'fixtures',
        'migrating-writer.ts',
      );
      const template = path.join(dir, 'older');
      const { expected } = await write(template);
      // An open that is not killed counts the disk changes a migration makes.
      await cp(template, stateDir, { recursive: true });
      const whole = await runWriter(script, 0);
      expect(whole.code).toBe(0);
      const total = Number(/^changes (\d+)$/m.exec(whole.out)?.[1]);
      // Everything the state holds (entries, IDs waiting to be retired, stats) once a migration ran whole.
      const migrated = (await openManifest(stateDir, 'docs')).toData();
      expect(Object.fromEntries(Object.entries(migrated.entries).map(([k, e]) => [k, e.fileId]))).toEqual(
        expected,
      );
      expect(total).toBeGreaterThanOrEqual(6);
      for (let killAt = 1; killAt <= total; killAt++) {
        const at = `killed before disk change ${killAt} of ${total}`;
        await rm(stateDir, { recursive: true, force: true });
        await cp(template, stateDir, { recursive: true });
        expect((await runWriter(script, killAt)).signal, at).toBe('SIGKILL');
        // Whichever side of the head's rename the kill fell on, a reader sees all of it.
        expect((await openManifest(stateDir, 'docs')).toData(), at).toEqual(migrated);
        const m = await openTracked();
        expect(m.toData(), at).toEqual(migrated);
        const head = JSON.parse(await readFile(m.file, 'utf8')) as {
          version: number;
          shards: Array<string | null>;
        };
        expect(head.version, at).toBe(4);
        // What the killed open left half-written is gone: only the shards the head names remain.
        const shardFiles = (await readdir(dataDir)).filter((n) => n.startsWith('entries-')).sort();
        expect(shardFiles, at).toEqual(head.shards.filter((n) => n !== null).sort());
        expect(
          (await readdir(stateDir)).filter((n) => n.includes('.tmp')),
          at,
        ).toEqual([]);
        await m.close();
        opened.splice(opened.indexOf(m), 1);
        expect((await openManifest(path.join(stateDir, 'docs.manifest.bak'), 'docs')).toData(), at).toEqual(
          migrated,
        );
      }
    },
    180_000,
  );

  it('reads one path from one shard (onlyPath) and agrees with the full read', async () => {
    const m = await openTracked();
    for (let i = 0; i < 9000; i++) m.set(`d${i % 30}/f${i}.txt`, entry(`file_${i}`));
    await m.snapshot();
    m.set('d3/f3.txt', entry('file_3b'));
    await m.flush();
    const full = await openManifest(stateDir, 'docs');
    const one = await openManifest(stateDir, 'docs', { onlyPath: 'd3/f3.txt' });
    expect(one.get('d3/f3.txt')?.fileId).toBe('file_3b');
    expect(full.get('d3/f3.txt')?.fileId).toBe('file_3b');
    expect(one.size).toBeLessThan(full.size / 2);
    expect(full.size).toBe(9000);
  });

  it('reads one path (onlyPath) exactly as the full read has it, whatever characters the names hold', async () => {
    const m = await openTracked();
    // Names that look like entry fields, hold JSON's structural characters, escapes, or another name.
    const tricky = [
      'size',
      'fileId',
      'a}b,"c".txt',
      '{x}/[y].txt',
      'back\\slash\\',
      '__proto__',
      'dé/ü 😀.txt',
      'tab\there',
      'f1.txt',
      'f1.txt.bak',
    ];
    for (let i = 0; i < 3000; i++) m.set(`d${i % 30}/f${i}.txt`, entry(`file_${i}`));
    tricky.forEach((name, i) => m.set(name, entry(`file_t${i}`)));
    await m.snapshot();
    const full = await openManifest(stateDir, 'docs');
    for (const name of [...tricky, 'd7/f7.txt', 'absent.txt', 'f1', 'd7']) {
      const one = await openManifest(stateDir, 'docs', { onlyPath: name });
      expect(one.get(name), name).toEqual(full.get(name));
      expect(
        [...one.entries()].map(([p]) => p),
        name,
      ).toEqual(full.has(name) ? [name] : []);
    }
  });

  it('gives readers complete batches while the writer appends and snapshots all the time', async () => {
    // A tiny snapshot threshold: nearly every flush also folds the journal, so readers race both.
    const writer = await openTracked({ ...MANUAL, snapshotAfterBytes: 1 });
    const reader = await openManifest(stateDir, 'docs');
    let done = false;
    const seen = new Set<number>();
    const reading = (async () => {
      while (!done) {
        await reader.reload();
        expect(reader.size % 150).toBe(0);
        seen.add(reader.size);
      }
    })();
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < 150; i++) writer.set(`r${round}/f${i}.txt`, entry(`file_${round}_${i}`));
      await writer.flush();
    }
    await writer.close();
    done = true;
    await reading;
    await reader.reload();
    expect(reader.size).toBe(4500);
    expect(seen.size).toBeGreaterThan(1);
    expect(writer.snapshotCount).toBeGreaterThan(5);
  });

  it('writes the whole state again when its files were removed while open', async () => {
    const m = await openTracked();
    m.set('a.txt', entry('file_a'));
    await m.flush();
    await rm(stateDir, { recursive: true });
    await mkdir(stateDir);
    m.set('b.txt', entry('file_b'));
    await m.flush().catch(() => undefined);
    await m.flush();
    expect(await state()).toEqual({ 'a.txt': 'file_a', 'b.txt': 'file_b' });
  });
});
