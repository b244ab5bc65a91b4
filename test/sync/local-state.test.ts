/** scanAll over a walk made on its thread: the files compared with the state as the walk's batches arrive are exactly those a comparison after the walk would pick. */
import { lstat, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPathFilter } from '../../src/local/filter.js';
import { startThreadScan } from '../../src/local/scan-thread.js';
import { scanAll, type LocalSource, type LocalState } from '../../src/sync/local-state.js';
import type { ManifestEntry, PendingUpload } from '../../src/types.js';
import { entry } from '../helpers/entries.js';

let root: string;
const DIRS = 40;
const FILES_PER_DIR = 25;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'files-sync-local-state-'));
});

afterEach(() => rm(root, { recursive: true, force: true }));

/** A synced tree: every file recorded with its stat; then 3 edited (size changed) and 2 added. */
async function syncedTree(): Promise<{ entries: Map<string, ManifestEntry>; changed: string[] }> {
  const entries = new Map<string, ManifestEntry>();
  for (let d = 0; d < DIRS; d++) {
    await mkdir(path.join(root, `d${d}`));
    for (let f = 0; f < FILES_PER_DIR; f++) {
      const rel = `d${d}/f${f}.txt`;
      await writeFile(path.join(root, rel), `file ${rel}\n`);
      const st = await lstat(path.join(root, rel));
      entries.set(
        rel,
        entry(`file_${d}_${f}`, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, remoteName: `f${f}.txt` }),
      );
    }
  }
  const changed = [
    'd0/f0.txt',
    'd17/f3.txt',
    `d${DIRS - 1}/f${FILES_PER_DIR - 1}.txt`,
    'd5/new.txt',
    `d${DIRS - 1}/new.txt`,
  ];
  for (const rel of changed) await writeFile(path.join(root, rel), `changed ${rel}, longer than before\n`);
  return { entries, changed };
}

function source(
  entries: Map<string, ManifestEntry>,
  overrides: { get?: LocalSource['manifest']['get']; pendingUploads?: () => PendingUpload[] } = {},
): LocalSource {
  return {
    root,
    filter: createPathFilter({}),
    followSymlinks: false,
    manifest: {
      get: overrides.get ?? ((p) => entries.get(p)),
      has: (p) => entries.has(p),
      entries: () => entries.entries(),
      pendingUploads: overrides.pendingUploads ?? (() => []),
    },
    logger: pino({ level: 'silent' }),
  };
}

function hashedPaths(state: LocalState): string[] {
  return [...state.local.values()]
    .filter((l) => l.sha256 !== undefined)
    .map((l) => l.path)
    .sort();
}

function threadScan() {
  // Batches every millisecond: a walk of this size arrives in several.
  return startThreadScan({ root, filter: {}, followSymlinks: false, batchMs: 1 });
}

describe('scanAll with a walk on its thread', () => {
  it('hashes exactly the new and changed files, whether it follows the walk from its start or after its end', async () => {
    const { entries, changed } = await syncedTree();
    const here = (await scanAll(source(entries))) as LocalState;
    expect(hashedPaths(here)).toEqual([...changed].sort());
    expect(here.localFiles).toBe(DIRS * FILES_PER_DIR + 2);

    const early = (await scanAll({ ...source(entries), scan: threadScan() })) as LocalState;
    expect(hashedPaths(early)).toEqual([...changed].sort());
    expect(early.hashed).toBe(changed.length);
    expect([...early.local.keys()].sort()).toEqual([...here.local.keys()].sort());

    const finished = threadScan();
    await finished.result;
    const late = (await scanAll({ ...source(entries), scan: finished })) as LocalState;
    expect(hashedPaths(late)).toEqual([...changed].sort());
  });

  it('a state that fails while the batches arrive is compared again after the walk', async () => {
    const { entries, changed } = await syncedTree();
    const scan = threadScan();
    let walked = false;
    let refused = 0;
    void scan.result.then(() => (walked = true));
    const get = (p: string): ManifestEntry | undefined => {
      if (!walked) {
        refused++;
        throw new Error('state not readable while the folder is walked');
      }
      return entries.get(p);
    };
    const state = (await scanAll({ ...source(entries, { get }), scan })) as LocalState;
    expect(refused).toBeGreaterThan(0);
    expect(hashedPaths(state)).toEqual([...changed].sort());
  });

  it('hashes an unchanged file whose upload intent appeared while the folder was walked', async () => {
    const { entries, changed } = await syncedTree();
    const intent: PendingUpload = {
      path: 'd9/f9.txt',
      sha256: '1'.repeat(64),
      size: entries.get('d9/f9.txt')!.size,
      remoteName: 'f9.txt',
      startedAt: new Date().toISOString(),
    };
    let asked = 0;
    const pendingUploads = (): PendingUpload[] => (++asked === 1 ? [] : [intent]);
    const state = (await scanAll({
      ...source(entries, { pendingUploads }),
      scan: threadScan(),
    })) as LocalState;
    expect(hashedPaths(state)).toEqual([...changed, 'd9/f9.txt'].sort());
    asked = 0;
    const walkedHere = (await scanAll(source(entries, { pendingUploads }))) as LocalState;
    expect(hashedPaths(walkedHere)).toEqual([...changed, 'd9/f9.txt'].sort());
  });

  it('hashes a changed file once when its entry and an intent for it changed while the folder was walked', async () => {
    const { entries, changed } = await syncedTree();
    // An upload of d0/f0.txt ends during the walk: its entry then matches the file on disk, and
    // its intent (begun during the walk too) is there when the walk ends.
    const st = await lstat(path.join(root, 'd0/f0.txt'));
    const scan = threadScan();
    let walked = false;
    void scan.result.then(() => (walked = true));
    const uploaded = entry('file_new', { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
    const get = (p: string): ManifestEntry | undefined =>
      walked && p === 'd0/f0.txt' ? uploaded : entries.get(p);
    const intent: PendingUpload = {
      path: 'd0/f0.txt',
      sha256: '1'.repeat(64),
      size: st.size,
      remoteName: 'f0.txt',
      startedAt: new Date().toISOString(),
    };
    let asked = 0;
    const pendingUploads = (): PendingUpload[] => (++asked === 1 ? [] : [intent]);
    const state = (await scanAll({ ...source(entries, { get, pendingUploads }), scan })) as LocalState;
    expect(hashedPaths(state)).toEqual([...changed].sort());
    expect(state.hashed).toBe(changed.length);
  });
});
