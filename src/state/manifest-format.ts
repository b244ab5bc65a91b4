// The manifest's on-disk format: its schema, version, migrations, and the head, shard and journal records.
import type { ManifestEntry, PendingDelete, PendingUpload, Suspect, UnsettledAttempt } from '../types.js';
import { ManifestCorruptError, ManifestVersionError } from './errors.js';
import { isPlainObject } from '../util/plain-object.js';

/**
 * The manifest format this code reads and writes. 2 added suspects, unsettled attempts and the
 * retention time of pending deletes. 3 split the one file into a head (everything but entries),
 * entry shards and a journal of changes (see manifest-files.ts), and records the workspace. 4
 * writes a shard's entries as one array per entry instead of an object keyed by path (see
 * shardText). Older formats are read and rewritten as 4; an older files-sync refuses a newer file
 * rather than dropping what it does not know.
 */
export const MANIFEST_VERSION = 4;

/** The first sharded format (head, shards, journals); its shards hold objects keyed by path. */
export const FIRST_SHARDED_VERSION = 3;

/** The last single-file format; `migrate` turns any single-file manifest (v0..v2) into its content. */
export const SINGLE_FILE_VERSION = 2;

/** Free-form status the daemon records for `status` to show. */
export interface ManifestStats {
  lastReconcileAt?: string | undefined;
  lastReconcileResult?: string | undefined;
  lastError?: string | undefined;
  [key: string]: unknown;
}

/** Which folder a manifest belongs to and, since v3, which workspace its file IDs live in. */
export interface FolderRecord {
  name: string;
  root: string;
  /**
   * The `anthropic-workspace-id` the IDs were created under; null for the key's default workspace,
   * absent when not known (a manifest from before v3).
   */
  workspaceId?: string | null;
}

/** The whole logical content of one folder's manifest (a single-file manifest, or all v3 files merged). */
export interface ManifestData {
  version: number;
  folder: FolderRecord;
  /** Key: relative path. */
  entries: Record<string, ManifestEntry>;
  /** Key: relative path. */
  pendingUploads: Record<string, PendingUpload>;
  /** Key: file ID. */
  pendingDeletes: Record<string, PendingDelete>;
  /** Key: file ID. Remote files that may be ours but cannot be proven so. */
  suspects: Record<string, Suspect>;
  /** Key: `unsettledKey(attempt)`. Unanswered attempts whose late copy may still appear. */
  unsettled: Record<string, UnsettledAttempt>;
  stats?: ManifestStats;
}

/** The key of an unsettled attempt in `ManifestData.unsettled`. */
export function unsettledKey(a: Pick<UnsettledAttempt, 'path' | 'startedAt'>): string {
  return `${a.startedAt} ${a.path}`;
}

/**
 * What a field of a stored record must hold. The checks are written out rather than taken from a
 * schema library: every `files-sync id` and every open validates each record it reads, and loading
 * zod alone costs more (~100 ms) than the whole one-path lookup.
 */
type FieldRule = {
  kind: 'string' | 'number' | 'boolean' | readonly string[];
  /** A string that must not be empty (IDs, paths), a number that must not be negative (sizes). */
  strict?: true;
  optional?: true;
  nullable?: true;
};

/** One rule per field of T, so a field added to the type without a rule fails to compile. */
type Shape<T> = { readonly [K in keyof Required<T>]: FieldRule };

const S: FieldRule = { kind: 'string' };
const ID: FieldRule = { kind: 'string', strict: true };
const NUM: FieldRule = { kind: 'number' };
const SIZE: FieldRule = { kind: 'number', strict: true };

const entryShape: Shape<ManifestEntry> = {
  fileId: ID,
  sha256: S,
  size: SIZE,
  mtimeMs: NUM,
  ino: NUM,
  remoteName: S,
  mimeType: S,
  uploadedAt: S,
  expiresAt: { kind: 'string', optional: true },
};

const pendingUploadShape: Shape<PendingUpload> = {
  path: ID,
  sha256: S,
  size: SIZE,
  remoteName: S,
  startedAt: S,
};

const pendingDeleteShape: Shape<PendingDelete> = {
  fileId: ID,
  path: S,
  reason: { kind: ['removed', 'replaced', 'stray', 'suspect'] },
  queuedAt: S,
  notBefore: { kind: 'string', optional: true },
  released: { kind: 'boolean', optional: true },
  sha256: { kind: 'string', optional: true },
  remoteName: { kind: 'string', optional: true },
  mimeType: { kind: 'string', optional: true },
  uploadedAt: { kind: 'string', optional: true },
  expiresAt: { kind: 'string', optional: true },
};

const suspectShape: Shape<Suspect> = {
  fileId: ID,
  filename: S,
  sizeBytes: SIZE,
  createdAt: S,
  path: S,
  why: S,
  recordedAt: S,
};

const unsettledShape: Shape<UnsettledAttempt> = {
  path: ID,
  remoteName: S,
  size: SIZE,
  startedAt: S,
  settleAfter: S,
};

const folderShape: Shape<FolderRecord> = {
  name: S,
  root: S,
  workspaceId: { kind: 'string', nullable: true, optional: true },
};

/** Why `value` breaks `rule`, or undefined when it holds. */
function fieldProblem(value: unknown, rule: FieldRule): string | undefined {
  if (value === undefined && rule.optional) return undefined;
  if (value === null && rule.nullable) return undefined;
  const { kind } = rule;
  if (typeof kind !== 'string') {
    return typeof value === 'string' && kind.includes(value)
      ? undefined
      : `expected one of ${kind.map((k) => JSON.stringify(k)).join(', ')}`;
  }
  if (typeof value !== kind || (kind === 'number' && !Number.isFinite(value)))
    return `expected ${kind}, received ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}`;
  if (rule.strict && kind === 'string' && value === '') return 'expected a non-empty string';
  if (rule.strict && kind === 'number' && (value as number) < 0) return 'expected a number >= 0';
  return undefined;
}

/**
 * Checks one record against its shape: the record itself when it holds exactly the shape's fields
 * (no copy: a shard has thousands), a copy without unknown fields otherwise (an older or newer
 * writer's extras are dropped, never trusted), or the problem as a string `.field: why`. Runs for
 * every entry an open reads, so it allocates nothing for a good record.
 */
function checkRecord<T extends object>(item: unknown, shape: Shape<T>): T | string {
  if (!isPlainObject(item))
    return `: expected object, received ${item === null ? 'null' : Array.isArray(item) ? 'array' : typeof item}`;
  let known = 0;
  for (const field in shape) {
    const value = item[field];
    const problem = fieldProblem(value, shape[field]);
    if (problem !== undefined) return `.${field}: ${problem}`;
    if (value !== undefined) known++;
  }
  let present = 0;
  for (const _ in item) present++;
  if (present === known) return item as T;
  const copy: Record<string, unknown> = {};
  for (const field in shape) if (item[field] !== undefined) copy[field] = item[field];
  return copy as T;
}

/**
 * A record whose keys are data (paths, file IDs). Null prototype, so a file literally named
 * "__proto__" or "constructor" is an ordinary key rather than a trap.
 */
export function emptyRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** A fresh manifest for a folder. */
export function emptyManifest(folder: FolderRecord): ManifestData {
  return {
    version: MANIFEST_VERSION,
    folder: { ...folder },
    entries: emptyRecord(),
    pendingUploads: emptyRecord(),
    pendingDeletes: emptyRecord(),
    suspects: emptyRecord(),
    unsettled: emptyRecord(),
  };
}

export interface MigrateOptions {
  /** Named in errors. */
  file?: string;
  /** Used when an old manifest did not record its folder. */
  folder?: { name: string; root: string };
}

/**
 * Turns parsed JSON of any known version into current ManifestData, validating every record.
 * v0 (no `version`): the same records, possibly without pending sections or folder.
 * A newer version throws ManifestVersionError; anything malformed throws ManifestCorruptError.
 */
export function migrate(raw: unknown, options: MigrateOptions = {}): ManifestData {
  const file = options.file;
  const named = file === undefined ? 'manifest' : `manifest ${file}`;
  const corrupt = (reason: string): ManifestCorruptError =>
    new ManifestCorruptError(`${named} is corrupt: ${reason}`, { file, reason });

  if (!isPlainObject(raw)) throw corrupt('not a JSON object');
  const version = raw['version'] ?? 0;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) {
    throw corrupt(`invalid version ${JSON.stringify(version)}`);
  }
  if (version > MANIFEST_VERSION) throw tooNew(named, file, version);
  if (version > SINGLE_FILE_VERSION) throw corrupt(`version ${version} is not a single-file manifest`);
  const v1 = version === 0 ? upgradeV0(raw, options.folder) : raw;
  // v1 had no suspects or unsettled attempts; an empty section may be left out.
  const source: Record<string, unknown> = { suspects: {}, unsettled: {}, ...v1 };

  const folder = checkRecord(source['folder'], folderShape);
  if (typeof folder === 'string') throw corrupt('folder is missing or malformed');
  const data: ManifestData = {
    version: SINGLE_FILE_VERSION,
    folder: { name: folder.name, root: folder.root },
    entries: validRecord(source['entries'], entryShape, 'entries', corrupt),
    pendingUploads: validRecord(source['pendingUploads'], pendingUploadShape, 'pendingUploads', corrupt),
    pendingDeletes: validRecord(source['pendingDeletes'], pendingDeleteShape, 'pendingDeletes', corrupt),
    suspects: validRecord(source['suspects'], suspectShape, 'suspects', corrupt),
    unsettled: validRecord(source['unsettled'], unsettledShape, 'unsettled', corrupt),
  };
  checkKeys(data, corrupt);
  const stats = source['stats'];
  if (stats !== undefined) {
    if (!isPlainObject(stats)) throw corrupt('stats is not an object');
    data.stats = { ...stats };
  }
  return data;
}

function upgradeV0(
  raw: Record<string, unknown>,
  folder: { name: string; root: string } | undefined,
): Record<string, unknown> {
  return {
    ...raw,
    folder: raw['folder'] ?? folder ?? { name: '', root: '' },
    pendingUploads: raw['pendingUploads'] ?? {},
    pendingDeletes: raw['pendingDeletes'] ?? {},
  };
}

function validRecord<T extends object>(
  value: unknown,
  shape: Shape<T>,
  section: string,
  corrupt: (reason: string) => Error,
): Record<string, T> {
  if (!isPlainObject(value)) throw corrupt(`${section} is missing or not an object`);
  for (const key in value) {
    const checked = checkRecord(value[key], shape);
    if (typeof checked === 'string') throw corrupt(`${section}[${JSON.stringify(key)}]${checked}`);
    if (checked !== value[key]) value[key] = checked;
  }
  // Adopt the parsed object itself (no copy of 100k keys): only its prototype must go, so that a
  // path named "constructor" or "__proto__" stays an ordinary key.
  Object.setPrototypeOf(value, null);
  return value as Record<string, T>;
}

function tooNew(named: string, file: string | undefined, version: number): ManifestVersionError {
  return new ManifestVersionError(
    `${named} has version ${version}, newer than this files-sync understands (${MANIFEST_VERSION}); upgrade files-sync`,
    { file, version, supported: MANIFEST_VERSION },
  );
}

/** The version a parsed manifest head says it has (0 when absent); throws on a newer or invalid one. */
export function headVersion(raw: unknown, file: string): number {
  const named = `manifest ${file}`;
  if (!isPlainObject(raw)) {
    throw new ManifestCorruptError(`${named} is corrupt: not a JSON object`, {
      file,
      reason: 'not a JSON object',
    });
  }
  const version = raw['version'] ?? 0;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) {
    const reason = `invalid version ${JSON.stringify(version)}`;
    throw new ManifestCorruptError(`${named} is corrupt: ${reason}`, { file, reason });
  }
  if (version > MANIFEST_VERSION) throw tooNew(named, file, version);
  return version;
}

/**
 * The head (v3 and later): everything but the entries, which live in `shards` (file names in the
 * data directory, one per shard, null for an empty shard), plus the journal generation to replay
 * from.
 */
export interface ManifestHead {
  /** The version read (3 or 4); a head is always written as MANIFEST_VERSION. */
  version: number;
  /** Increases with every snapshot; shard files and journals are named with generations. */
  gen: number;
  folder: FolderRecord;
  shards: Array<string | null>;
  /** Journal files of this generation and later hold changes made after this snapshot. */
  journalFrom: number;
  pendingUploads: Record<string, PendingUpload>;
  pendingDeletes: Record<string, PendingDelete>;
  suspects: Record<string, Suspect>;
  unsettled: Record<string, UnsettledAttempt>;
  stats: ManifestStats;
}

const SHARD_NAME = /^entries-\d+\.\d+\.json$/;

/** Validates a parsed head of `version` (3 or later); throws ManifestCorruptError naming what is wrong. */
export function parseHead(raw: unknown, file: string, version: number): ManifestHead {
  const corrupt = (reason: string): ManifestCorruptError =>
    new ManifestCorruptError(`manifest ${file} is corrupt: ${reason}`, { file, reason });
  if (!isPlainObject(raw)) throw corrupt('not a JSON object');
  const folder = checkRecord(raw['folder'], folderShape);
  if (typeof folder === 'string') throw corrupt('folder is missing or malformed');
  const gen = raw['gen'];
  const journalFrom = raw['journalFrom'];
  if (typeof gen !== 'number' || !Number.isSafeInteger(gen) || gen < 0) throw corrupt('gen is not a number');
  if (typeof journalFrom !== 'number' || !Number.isSafeInteger(journalFrom) || journalFrom < 0)
    throw corrupt('journalFrom is not a number');
  const shards = raw['shards'];
  if (
    !Array.isArray(shards) ||
    shards.length === 0 ||
    (shards.length & (shards.length - 1)) !== 0 ||
    !shards.every((s) => s === null || (typeof s === 'string' && SHARD_NAME.test(s)))
  )
    throw corrupt('shards is not a power-of-two list of shard file names');
  const stats = raw['stats'] ?? {};
  if (!isPlainObject(stats)) throw corrupt('stats is not an object');
  const { workspaceId, ...place } = folder;
  const head: ManifestHead = {
    version,
    gen,
    folder: workspaceId === undefined ? place : { ...place, workspaceId },
    shards: shards as Array<string | null>,
    journalFrom,
    pendingUploads: validRecord(raw['pendingUploads'], pendingUploadShape, 'pendingUploads', corrupt),
    pendingDeletes: validRecord(raw['pendingDeletes'], pendingDeleteShape, 'pendingDeletes', corrupt),
    suspects: validRecord(raw['suspects'], suspectShape, 'suspects', corrupt),
    unsettled: validRecord(raw['unsettled'], unsettledShape, 'unsettled', corrupt),
    stats: { ...stats },
  };
  checkKeys(head, corrupt);
  return head;
}

/**
 * A shard file's text (v4): `{"version":4,"shard":i,"of":n,"entries":[[path, fileId, sha256, size,
 * mtimeMs, ino, remoteName, mimeType, uploadedAt(, expiresAt)], ...]}`. Arrays rather than the v3
 * object keyed by path with an object per entry: JSON.parse builds a 2,000-key dictionary and an
 * object per entry with its nine keys, which at 100k entries took 0.4 s of a no-op restart's main
 * thread; the arrays parse in a third of that, and the file is a quarter smaller.
 */
export function shardText(shard: number, of: number, entries: ReadonlyMap<string, ManifestEntry>): string {
  const rows: unknown[][] = [];
  for (const [p, e] of entries) {
    const row: unknown[] = [
      p,
      e.fileId,
      e.sha256,
      e.size,
      e.mtimeMs,
      e.ino,
      e.remoteName,
      e.mimeType,
      e.uploadedAt,
    ];
    if (e.expiresAt !== undefined) row.push(e.expiresAt);
    rows.push(row);
  }
  return JSON.stringify({ version: MANIFEST_VERSION, shard, of, entries: rows });
}

/** The fields of a v4 entry row after its path, in order (see shardText). */
const ROW_FIELDS = [
  'fileId',
  'sha256',
  'size',
  'mtimeMs',
  'ino',
  'remoteName',
  'mimeType',
  'uploadedAt',
  'expiresAt',
] as const satisfies ReadonlyArray<keyof ManifestEntry>;

/** A v4 entry row as [path, entry], or the problem as a string `.field: why`. */
function checkRow(row: unknown): [string, ManifestEntry] | string {
  if (!Array.isArray(row)) return `: expected array, received ${row === null ? 'null' : typeof row}`;
  if (row.length !== ROW_FIELDS.length && row.length !== ROW_FIELDS.length + 1)
    return `: expected ${ROW_FIELDS.length} or ${ROW_FIELDS.length + 1} fields, received ${row.length}`;
  const relPath: unknown = row[0];
  if (typeof relPath !== 'string' || relPath === '') return '.path: expected a non-empty string';
  for (let i = 0; i < ROW_FIELDS.length; i++) {
    const field = ROW_FIELDS[i]!;
    const problem = fieldProblem(row[i + 1], entryShape[field]);
    if (problem !== undefined) return `.${field}: ${problem}`;
  }
  const entry: ManifestEntry = {
    fileId: row[1] as string,
    sha256: row[2] as string,
    size: row[3] as number,
    mtimeMs: row[4] as number,
    ino: row[5] as number,
    remoteName: row[6] as string,
    mimeType: row[7] as string,
    uploadedAt: row[8] as string,
  };
  if (row.length > ROW_FIELDS.length) entry.expiresAt = row[9] as string;
  return [relPath, shareMimeType(entry)];
}

/** Validates the entries of one parsed shard file (v3 or v4), as a map by path. */
export function parseShard(raw: unknown, file: string): Map<string, ManifestEntry> {
  const corrupt = (reason: string): ManifestCorruptError =>
    new ManifestCorruptError(`manifest shard ${file} is corrupt: ${reason}`, { file, reason });
  const version = isPlainObject(raw) ? raw['version'] : undefined;
  if (version === FIRST_SHARDED_VERSION) {
    const entries = validRecord((raw as Record<string, unknown>)['entries'], entryShape, 'entries', corrupt);
    const out = new Map<string, ManifestEntry>();
    for (const key in entries) out.set(key, shareMimeType(entries[key]!));
    return out;
  }
  if (version !== MANIFEST_VERSION) throw corrupt('not a v3 or v4 shard');
  const rows = (raw as Record<string, unknown>)['entries'];
  if (!Array.isArray(rows)) throw corrupt('entries is missing or not an array');
  const out = new Map<string, ManifestEntry>();
  for (let i = 0; i < rows.length; i++) {
    const checked = checkRow(rows[i]);
    if (typeof checked === 'string') throw corrupt(`entries[${i}]${checked}`);
    out.set(checked[0], checked[1]);
  }
  return out;
}

/** The MIME types read so far, each once; bounded, so odd stored values cannot grow it without end. */
const mimeTypes = new Map<string, string>();
const MAX_SHARED_MIME_TYPES = 1024;

/**
 * Points a parsed entry's mimeType at the one copy of that text. JSON.parse makes a string per
 * entry for every value longer than 10 characters ("application/pdf", the 71-character Office
 * types): 30-90 bytes an entry that a folder of 100k files holds for the daemon's whole life,
 * for a few dozen distinct values. Only for entries this module parsed (the caller's objects are
 * never written to); the value read is the same text, so nothing else can tell.
 */
export function shareMimeType(entry: ManifestEntry): ManifestEntry {
  const shared = mimeTypes.get(entry.mimeType);
  if (shared !== undefined) entry.mimeType = shared;
  else if (mimeTypes.size < MAX_SHARED_MIME_TYPES) mimeTypes.set(entry.mimeType, entry.mimeType);
  return entry;
}

/**
 * One path's entry from a shard file's text, without parsing the other ~2,000: what a one-path
 * lookup (`files-sync id`) needs, where JSON.parse of the whole shard and its garbage cost more
 * than everything else the lookup does. It relies on the form the writer gives a shard (one
 * JSON.stringify, see shardText): a v4 entry is the array that opens with the path's JSON text,
 * found after `[` (the first entry) or `],[` (the one before it closing); a v3 entry is the key
 * found after `{` or `},`. Inside a string only the `[` or `{` can stand (its `"` would close
 * the string): a candidate that does not read as the path's entry is passed over.
 * undefined when the text is not in that form or the path is absent: the caller parses the whole
 * shard, which also reports damage.
 */
export function parseShardEntry(
  text: string,
  file: string,
  relPath: string,
): Map<string, ManifestEntry> | undefined {
  const opening = SHARD_OPENING.exec(text.slice(0, 80));
  if (!opening) return undefined;
  const version = Number(opening[1]);
  const open = version === MANIFEST_VERSION ? '[' : version === FIRST_SHARDED_VERSION ? '{' : undefined;
  if (opening[2] !== open) return undefined;
  const entriesStart = opening[0].length;
  const close = open === '[' ? ']' : '}';
  const key = open === '[' ? `[${JSON.stringify(relPath)},` : `${JSON.stringify(relPath)}:`;
  for (let at = text.indexOf(key, entriesStart); at !== -1; at = text.indexOf(key, at + 1)) {
    if (at !== entriesStart && !(text[at - 1] === ',' && text[at - 2] === close)) continue;
    const valueStart = open === '[' ? at : at + key.length;
    const valueEnd = endOfFlatValue(text, valueStart);
    if (valueEnd === -1) return undefined;
    try {
      const one: unknown = JSON.parse(
        open === '[' ? `[${text.slice(at, valueEnd)}]` : `{${text.slice(at, valueEnd)}}`,
      );
      const found = parseShard({ version, entries: one }, file);
      if (found.has(relPath)) return found;
    } catch {
      // Not an entry after all (a string ending in `],[` before a path of ","), or a damaged one,
      // which the full parse reports: look on.
    }
  }
  return undefined;
}

/** How every shard file the writer makes begins (see shardText); group 2 opens the entries. */
const SHARD_OPENING = /^\{"version":(\d+),"shard":\d+,"of":\d+,"entries":([[{])/;

/**
 * The index just past the `]` or `}` closing the flat array or object that opens at `start`
 * (nothing nested in it), or -1.
 */
function endOfFlatValue(text: string, start: number): number {
  const closeCode = text[start] === '[' ? 0x5d : text[start] === '{' ? 0x7d : -1;
  if (closeCode === -1) return -1;
  let inString = false;
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === closeCode) return i + 1;
    else if (c === 0x7b || c === 0x5b || c === 0x7d || c === 0x5d) return -1;
  }
  return -1;
}

/** The sections a journal record can change; `t` is stats, `f` the folder record (key ""). */
export type JournalSection = 'e' | 'u' | 'd' | 's' | 'x' | 't' | 'f';

/** One change: set `key` of `section` to `value`, or delete it when value is null. */
export type JournalOp = readonly [section: JournalSection, key: string, value: unknown];

const SECTION_SHAPES: Record<JournalSection, Shape<object> | null> = {
  e: entryShape,
  u: pendingUploadShape,
  d: pendingDeleteShape,
  s: suspectShape,
  x: unsettledShape,
  t: null,
  f: folderShape,
};

/** Validates one journal line's ops; throws with `reason` when one is not a well-formed change. */
export function parseJournalOps(raw: unknown): JournalOp[] {
  if (!Array.isArray(raw) || typeof raw[0] !== 'number') throw new Error('not a journal record');
  const ops: JournalOp[] = [];
  for (let i = 1; i < raw.length; i++) {
    const op: unknown = raw[i];
    if (!Array.isArray(op) || op.length !== 3 || typeof op[1] !== 'string')
      throw new Error(`op ${i} malformed`);
    const section = op[0] as JournalSection;
    if (!Object.hasOwn(SECTION_SHAPES, section)) throw new Error(`op ${i} names no section`);
    const value: unknown = op[2];
    if (value === null) {
      ops.push([section, op[1], null]);
      continue;
    }
    const shape = SECTION_SHAPES[section];
    if (shape === null) {
      if (!isPlainObject(value)) throw new Error(`op ${i}: stats is not an object`);
      ops.push([section, op[1], { ...value }]);
      continue;
    }
    const checked = checkRecord(value, shape);
    if (typeof checked === 'string') throw new Error(`op ${i}: ${checked.replace(/^[.:] ?/, '')}`);
    ops.push([section, op[1], section === 'e' ? shareMimeType(checked as ManifestEntry) : checked]);
  }
  return ops;
}

function checkKeys(
  data: Pick<ManifestData, 'unsettled' | 'pendingUploads' | 'pendingDeletes'>,
  corrupt: (reason: string) => Error,
): void {
  for (const [key, u] of Object.entries(data.unsettled)) {
    if (unsettledKey(u) !== key)
      throw corrupt(`unsettled[${JSON.stringify(key)}] names ${JSON.stringify(u.path)}`);
  }
  for (const [key, p] of Object.entries(data.pendingUploads)) {
    if (p.path !== key)
      throw corrupt(`pendingUploads[${JSON.stringify(key)}] names path ${JSON.stringify(p.path)}`);
  }
  for (const [key, d] of Object.entries(data.pendingDeletes)) {
    if (d.fileId !== key)
      throw corrupt(`pendingDeletes[${JSON.stringify(key)}] names file ${JSON.stringify(d.fileId)}`);
  }
}
