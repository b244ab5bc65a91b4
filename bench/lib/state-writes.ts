/**
 * Counts the durable writes a folder's v3 state makes, seen from outside the writer (the daemon
 * is another process and exposes no write counter): journal appends (complete lines added to
 * `<name>.manifest.d/journal.<gen>.jsonl`), snapshots (renames onto the head
 * `<name>.manifest.json`) and the shard files those snapshots created, with the bytes of each.
 */
import { watch, promises as fs, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { dataDirOf, journalGen } from '../../src/state/manifest-files.js';
import { manifestPath } from '../../src/state/state-dir.js';

export interface StateWrites {
  /** Complete journal lines added (one line = one fdatasynced append). */
  journalAppends: number;
  journalBytes: number;
  /** Head replacements (a snapshot ends with exactly one). */
  snapshots: number;
  headBytes: number;
  /** Shard files created by those snapshots and their total size. */
  shardFiles: number;
  shardBytes: number;
}

export interface StateWriteObserver {
  /** Stops watching (after one last look at the journals) and returns what was counted. */
  stop(): Promise<StateWrites>;
}

interface JournalSeen {
  lines: number;
  bytes: number;
}

async function readJournal(file: string): Promise<JournalSeen | null> {
  try {
    const text = await fs.readFile(file, 'utf8');
    let lines = 0;
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines++;
    return { lines, bytes: Buffer.byteLength(text) };
  } catch {
    // Folded into a snapshot and removed since the event: what it held was counted before.
    return null;
  }
}

async function sizeOf(file: string): Promise<number | null> {
  try {
    return (await fs.stat(file)).size;
  } catch {
    return null;
  }
}

/**
 * Starts counting writes to the state of folder `name` in `stateDir` (both directories must
 * exist). What the journals held before the call is not counted. Appends are counted by reading
 * the journal on each change event, so coalesced inotify events lose nothing.
 */
export async function observeStateWrites(stateDir: string, name: string): Promise<StateWriteObserver> {
  const head = manifestPath(stateDir, name);
  const headName = path.basename(head);
  const dataDir = dataDirOf(head);
  const before = new Map<string, JournalSeen>();
  const seen = new Map<string, JournalSeen>();
  const shards = new Map<string, number>();
  const totals = { snapshots: 0, headBytes: 0 };
  const pending = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  for (const entry of await fs.readdir(dataDir)) {
    if (journalGen(entry) === undefined) continue;
    const j = await readJournal(path.join(dataDir, entry));
    if (j) before.set(entry, j);
  }

  const lookAtJournal = async (entry: string) => {
    const j = await readJournal(path.join(dataDir, entry));
    const prev = seen.get(entry);
    if (j && (!prev || j.lines > prev.lines)) seen.set(entry, j);
  };

  const watchers: FSWatcher[] = [
    watch(dataDir, (_event, entry) => {
      if (typeof entry !== 'string') return;
      if (journalGen(entry) !== undefined) track(lookAtJournal(entry));
      else if (entry.startsWith('entries-') && !shards.has(entry)) {
        shards.set(entry, 0);
        track(
          sizeOf(path.join(dataDir, entry)).then((size) => {
            if (size === null) shards.delete(entry);
            else shards.set(entry, size);
          }),
        );
      }
    }),
    watch(stateDir, (event, entry) => {
      if (event !== 'rename' || entry !== headName) return;
      track(
        sizeOf(head).then((size) => {
          if (size === null) return;
          totals.snapshots++;
          totals.headBytes += size;
        }),
      );
    }),
  ];

  return {
    async stop() {
      for (const entry of seen.keys()) await lookAtJournal(entry);
      for (const w of watchers) w.close();
      while (pending.size > 0) await Promise.all(pending);
      let journalAppends = 0;
      let journalBytes = 0;
      for (const [entry, j] of seen) {
        const b = before.get(entry) ?? { lines: 0, bytes: 0 };
        journalAppends += j.lines - b.lines;
        journalBytes += j.bytes - b.bytes;
      }
      let shardBytes = 0;
      for (const size of shards.values()) shardBytes += size;
      return {
        journalAppends,
        journalBytes,
        snapshots: totals.snapshots,
        headBytes: totals.headBytes,
        shardFiles: shards.size,
        shardBytes,
      };
    },
  };
}

/** Journal appends plus snapshots: what Manifest.writeCount counts in the writer. */
export function durableWrites(w: StateWrites): number {
  return w.journalAppends + w.snapshots;
}

/** Every byte the state wrote (journal lines, shard files, heads). */
export function bytesWritten(w: StateWrites): number {
  return w.journalBytes + w.shardBytes + w.headBytes;
}
