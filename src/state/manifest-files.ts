// The sharded manifest's files on disk (head, entry shards, journals): names, shard choice, and consistent reads.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ManifestCorruptError } from './errors.js';
import {
  FIRST_SHARDED_VERSION,
  headVersion,
  migrate,
  parseHead,
  parseJournalOps,
  parseShard,
  parseShardEntry,
  type FolderRecord,
  type JournalOp,
  type ManifestData,
  type ManifestHead,
} from './manifest-format.js';
import type { ManifestEntry } from '../types.js';

/**
 * Layout of one folder's state, next to the head `<stateDir>/<name>.manifest.json`:
 *
 *   <name>.manifest.d/entries-<shard>.<gen>.json   entries whose path hashes to <shard>, as of snapshot <gen>
 *   <name>.manifest.d/journal.<gen>.jsonl           changes made after snapshot <gen>, one batch a line
 *   <name>.manifest.bak/                             hard links to the files as this process opened them
 *
 * A shard file is written once under a new name and never changed, so a reader that follows the
 * head it read always finds the files that head names, or finds them gone and starts over.
 */
export function dataDirOf(headFile: string): string {
  return headFile.replace(/\.json$/, '.d');
}

export function backupDirOf(headFile: string): string {
  return headFile.replace(/\.json$/, '.bak');
}

export function shardFileName(shard: number, gen: number): string {
  return `entries-${shard}.${gen}.json`;
}

export function journalFileName(gen: number): string {
  return `journal.${gen}.jsonl`;
}

const JOURNAL_NAME = /^journal\.(\d+)\.jsonl$/;

/** The generation of a journal file name, or undefined for any other name. */
export function journalGen(name: string): number | undefined {
  const m = JOURNAL_NAME.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Entries per shard a snapshot aims at: one shard stays ~0.5 MB of JSON, so a lookup reads ~1/N of the state. */
export const ENTRIES_PER_SHARD = 2048;
const MAX_SHARDS = 4096;

/** The shard count for `entries` entries: a power of two, never fewer than `current` (shards only split). */
export function shardCountFor(entries: number, current = 1): number {
  let n = Math.max(1, current);
  while (n < MAX_SHARDS && entries > n * ENTRIES_PER_SHARD) n *= 2;
  return n;
}

/** Which shard a path lives in: FNV-1a over its UTF-16 code units, masked to the power-of-two count. */
export function shardOf(relPath: string, count: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < relPath.length; i++) {
    h ^= relPath.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & (count - 1);
}

/** What was on disk for a folder, as one consistent snapshot. */
export type StoredManifest =
  | { format: 'single'; sourceVersion: number; data: ManifestData }
  | {
      format: 'sharded';
      head: ManifestHead;
      /** Entries per shard index, as the head's shard files hold them (the view adopts these maps). */
      shards: Array<Map<string, ManifestEntry>>;
      journals: JournalContent[];
    };

export interface JournalContent {
  gen: number;
  file: string;
  ops: JournalOp[];
  /** A last line cut short by a crash (ignored: its batch never completed). */
  tornTail: boolean;
}

export interface ReadOptions {
  /** Used when a v0 manifest did not record its folder. */
  folder?: FolderRecord | undefined;
  /** Read only this path's entry, from the shard holding it (a lookup of one path); nothing of other paths. */
  onlyPath?: string | undefined;
}

/**
 * Reads a folder's state as one consistent snapshot, or null when there is no head. A writer may
 * snapshot at the same time: it writes new shard files, then the head, then removes what the old
 * head named; so a reader that finds a file missing, or the head changed when it is done, starts
 * over (a snapshot takes milliseconds, so a few tries always suffice).
 */
export async function readStoredManifest(
  headFile: string,
  options: ReadOptions = {},
): Promise<StoredManifest | null> {
  for (let attempt = 0; ; attempt++) {
    const text = await readText(headFile);
    if (text === null) return null;
    const raw = parseJson(text, headFile);
    const version = headVersion(raw, headFile);
    if (version < FIRST_SHARDED_VERSION) {
      const data = migrate(
        raw,
        options.folder === undefined ? { file: headFile } : { file: headFile, folder: options.folder },
      );
      return { format: 'single', sourceVersion: version, data };
    }
    const head = parseHead(raw, headFile, version);
    try {
      const stored = await readRest(headFile, head, options.onlyPath);
      if ((await readText(headFile)) === text) return stored;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ENOENT' || attempt >= 20) throw err;
    }
    if (attempt >= 20) {
      throw new ManifestCorruptError(`manifest ${headFile} kept changing while it was read`, {
        file: headFile,
        reason: 'unstable',
      });
    }
  }
}

async function readRest(
  headFile: string,
  head: ManifestHead,
  onlyPath: string | undefined,
): Promise<StoredManifest> {
  const dir = dataDirOf(headFile);
  const wanted = onlyPath === undefined ? undefined : shardOf(onlyPath, head.shards.length);
  // One shard at a time: read in parallel, every shard's text and buffer would be alive at once
  // (at 1M entries, RSS three times the heap the entries need).
  const shards: Array<Map<string, ManifestEntry>> = [];
  for (const [i, name] of head.shards.entries()) {
    if (name === null || (wanted !== undefined && i !== wanted)) {
      shards.push(new Map());
      continue;
    }
    const file = path.join(dir, name);
    const text = await readFile(file, 'utf8');
    if (onlyPath === undefined) shards.push(parseShard(parseJson(text, file), file));
    else
      shards.push(
        parseShardEntry(text, file, onlyPath) ?? pathOnly(parseShard(parseJson(text, file), file), onlyPath),
      );
  }
  const journals = await readJournals(dir, head.journalFrom);
  if (onlyPath !== undefined) {
    // Only that path's entry: the view must not hold a partial copy of the others.
    for (const j of journals) j.ops = j.ops.filter(([s, key]) => s !== 'e' || key === onlyPath);
  }
  return { format: 'sharded', head, shards, journals };
}

/** The entries reduced to `relPath`'s, if it has one. */
function pathOnly(entries: Map<string, ManifestEntry>, relPath: string): Map<string, ManifestEntry> {
  const entry = entries.get(relPath);
  return new Map(entry === undefined ? [] : [[relPath, entry]]);
}

/** Every journal from generation `from` on, oldest first. */
export async function readJournals(dir: string, from: number): Promise<JournalContent[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return [];
    throw err;
  }
  const gens = names
    .map((n) => journalGen(n))
    .filter((g): g is number => g !== undefined && g >= from)
    .sort((a, b) => a - b);
  const out: JournalContent[] = [];
  for (const gen of gens) {
    const file = path.join(dir, journalFileName(gen));
    const text = await readText(file);
    // Removed since the listing: a snapshot folded it; the head check makes the caller retry.
    if (text === null) throw Object.assign(new Error(`journal ${file} vanished`), { code: 'ENOENT' });
    out.push({ gen, file, ...parseJournal(text, file) });
  }
  return out;
}

/**
 * The ops of a journal's complete lines. Each batch is one line written by one append; a crash
 * can cut only the last one, which is ignored. A bad line with complete lines after it is not
 * a torn tail but damage, and is refused.
 */
export function parseJournal(text: string, file: string): { ops: JournalOp[]; tornTail: boolean } {
  const ops: JournalOp[] = [];
  let start = 0;
  let line = 0;
  while (start < text.length) {
    const end = text.indexOf('\n', start);
    line++;
    if (end === -1) return { ops, tornTail: true };
    const body = text.slice(start, end);
    start = end + 1;
    let batch: JournalOp[];
    try {
      batch = parseJournalOps(JSON.parse(body));
    } catch (err) {
      if (start >= text.length) return { ops, tornTail: true };
      const reason = `line ${line}: ${(err as Error).message}`;
      throw new ManifestCorruptError(`manifest journal ${file} is corrupt: ${reason}`, { file, reason });
    }
    for (const op of batch) ops.push(op);
  }
  return { ops, tornTail: false };
}

async function readText(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return null;
    throw err;
  }
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const reason = text.trim() === '' ? 'file is empty' : `invalid JSON (${(err as Error).message})`;
    throw new ManifestCorruptError(
      `manifest ${file} is corrupt: ${reason}`,
      { file, reason },
      { cause: err },
    );
  }
}
