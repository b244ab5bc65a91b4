// The manifest's on-disk format: its schema, version, migrations, and the v3 head, shard and journal records.
import { z } from 'zod';
import type { ManifestEntry, PendingDelete, PendingUpload, Suspect, UnsettledAttempt } from '../types.js';
import { ManifestCorruptError, ManifestVersionError } from './errors.js';

/**
 * The manifest format this code reads and writes. 2 added suspects, unsettled attempts and the
 * retention time of pending deletes. 3 split the one file into a head (everything but entries),
 * entry shards and a journal of changes (see manifest-files.ts), and records the workspace. Older
 * formats are read and rewritten as 3; an older files-sync refuses a newer file rather than
 * dropping what it does not know.
 */
export const MANIFEST_VERSION = 3;

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

const manifestEntrySchema = z.object({
  fileId: z.string().min(1),
  sha256: z.string(),
  size: z.number().nonnegative(),
  mtimeMs: z.number(),
  ino: z.number(),
  remoteName: z.string(),
  mimeType: z.string(),
  uploadedAt: z.string(),
  expiresAt: z.string().optional(),
});

const pendingUploadSchema = z.object({
  path: z.string().min(1),
  sha256: z.string(),
  size: z.number().nonnegative(),
  remoteName: z.string(),
  startedAt: z.string(),
});

const pendingDeleteSchema = z.object({
  fileId: z.string().min(1),
  path: z.string(),
  reason: z.enum(['removed', 'replaced', 'stray', 'suspect']),
  queuedAt: z.string(),
  notBefore: z.string().optional(),
  released: z.boolean().optional(),
});

const suspectSchema = z.object({
  fileId: z.string().min(1),
  filename: z.string(),
  sizeBytes: z.number().nonnegative(),
  createdAt: z.string(),
  path: z.string(),
  why: z.string(),
  recordedAt: z.string(),
});

const unsettledSchema = z.object({
  path: z.string().min(1),
  remoteName: z.string(),
  size: z.number().nonnegative(),
  startedAt: z.string(),
  settleAfter: z.string(),
});

const folderSchema = z.object({
  name: z.string(),
  root: z.string(),
  workspaceId: z.string().nullable().optional(),
});

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

  const folder = folderSchema.safeParse(source['folder']);
  if (!folder.success) throw corrupt('folder is missing or malformed');
  const data: ManifestData = {
    version: SINGLE_FILE_VERSION,
    folder: { name: folder.data.name, root: folder.data.root },
    entries: validRecord(source['entries'], manifestEntrySchema, 'entries', corrupt),
    pendingUploads: validRecord(source['pendingUploads'], pendingUploadSchema, 'pendingUploads', corrupt),
    pendingDeletes: validRecord(source['pendingDeletes'], pendingDeleteSchema, 'pendingDeletes', corrupt),
    suspects: validRecord(source['suspects'], suspectSchema, 'suspects', corrupt),
    unsettled: validRecord(source['unsettled'], unsettledSchema, 'unsettled', corrupt),
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

/**
 * The shape of each record section as field -> expected typeof, for a fast first check: zod costs
 * ~6 us a record (0.6-0.9 s at 100k entries, more than JSON.parse), and `files-sync id` opens the
 * manifest on every call. zod still runs on a record that fails, to name what is wrong.
 */
const FAST_SHAPES = new Map<z.ZodType, ReadonlyArray<readonly [string, 'string' | 'number']>>([
  [
    manifestEntrySchema,
    [
      ['fileId', 'string'],
      ['sha256', 'string'],
      ['size', 'number'],
      ['mtimeMs', 'number'],
      ['ino', 'number'],
      ['remoteName', 'string'],
      ['mimeType', 'string'],
      ['uploadedAt', 'string'],
    ],
  ],
  [
    pendingUploadSchema,
    [
      ['path', 'string'],
      ['sha256', 'string'],
      ['size', 'number'],
      ['remoteName', 'string'],
      ['startedAt', 'string'],
    ],
  ],
]);

/** True when `item` certainly passes its schema (only plain typed fields, values in range); false means "ask zod". */
function fastValid(item: unknown, shape: ReadonlyArray<readonly [string, 'string' | 'number']>): boolean {
  if (!isPlainObject(item)) return false;
  let known = 0;
  for (const [field, type] of shape) {
    const v = item[field];
    if (typeof v !== type) return false;
    if (type === 'number' && !Number.isFinite(v)) return false;
    known++;
  }
  const size = item['size'];
  if (typeof size === 'number' && size < 0) return false;
  for (const first of ['fileId', 'path'] as const) if (first in item && item[first] === '') return false;
  // The one optional field an entry may carry (a copy that expires).
  if (shape === FAST_SHAPES.get(manifestEntrySchema) && 'expiresAt' in item) {
    if (typeof item['expiresAt'] !== 'string') return false;
    known++;
  }
  // Extra fields are stripped by zod: leave such records to it so the output is the same.
  return Object.keys(item).length === known;
}

function allFastValid(
  record: Record<string, unknown>,
  shape: ReadonlyArray<readonly [string, 'string' | 'number']>,
): boolean {
  for (const key in record) if (!fastValid(record[key], shape)) return false;
  return true;
}

function validRecord<S extends z.ZodType>(
  value: unknown,
  schema: S,
  section: string,
  corrupt: (reason: string) => Error,
): Record<string, z.output<S>> {
  if (!isPlainObject(value)) throw corrupt(`${section} is missing or not an object`);
  const shape = FAST_SHAPES.get(schema);
  if (shape !== undefined && allFastValid(value, shape)) {
    // Adopt the parsed object itself (no copy of 100k keys): only its prototype must go, so that
    // a path named "constructor" or "__proto__" stays an ordinary key.
    Object.setPrototypeOf(value, null);
    return value as Record<string, z.output<S>>;
  }
  const out = emptyRecord<z.output<S>>();
  for (const [key, item] of Object.entries(value)) {
    const parsed = schema.safeParse(item);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? `.${issue.path.join('.')}` : '';
      throw corrupt(`${section}[${JSON.stringify(key)}]${where}: ${issue?.message ?? 'invalid'}`);
    }
    out[key] = parsed.data;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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
 * The v3 head: everything but the entries, which live in `shards` (file names in the data
 * directory, one per shard, null for an empty shard), plus the journal generation to replay from.
 */
export interface ManifestHead {
  version: 3;
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

/** Validates a parsed v3 head; throws ManifestCorruptError naming what is wrong. */
export function parseHead(raw: unknown, file: string): ManifestHead {
  const corrupt = (reason: string): ManifestCorruptError =>
    new ManifestCorruptError(`manifest ${file} is corrupt: ${reason}`, { file, reason });
  if (!isPlainObject(raw)) throw corrupt('not a JSON object');
  const folder = folderSchema.safeParse(raw['folder']);
  if (!folder.success) throw corrupt('folder is missing or malformed');
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
  const { workspaceId, ...place } = folder.data;
  const head: ManifestHead = {
    version: 3,
    gen,
    folder: workspaceId === undefined ? place : { ...place, workspaceId },
    shards: shards as Array<string | null>,
    journalFrom,
    pendingUploads: validRecord(raw['pendingUploads'], pendingUploadSchema, 'pendingUploads', corrupt),
    pendingDeletes: validRecord(raw['pendingDeletes'], pendingDeleteSchema, 'pendingDeletes', corrupt),
    suspects: validRecord(raw['suspects'], suspectSchema, 'suspects', corrupt),
    unsettled: validRecord(raw['unsettled'], unsettledSchema, 'unsettled', corrupt),
    stats: { ...stats },
  };
  checkKeys(head, corrupt);
  return head;
}

/** Validates the entries of one parsed shard file. */
export function parseShard(raw: unknown, file: string): Record<string, ManifestEntry> {
  const corrupt = (reason: string): ManifestCorruptError =>
    new ManifestCorruptError(`manifest shard ${file} is corrupt: ${reason}`, { file, reason });
  if (!isPlainObject(raw) || raw['version'] !== MANIFEST_VERSION) throw corrupt('not a v3 shard');
  return validRecord(raw['entries'], manifestEntrySchema, 'entries', corrupt);
}

/** The sections a journal record can change; `t` is stats, `f` the folder record (key ""). */
export type JournalSection = 'e' | 'u' | 'd' | 's' | 'x' | 't' | 'f';

/** One change: set `key` of `section` to `value`, or delete it when value is null. */
export type JournalOp = readonly [section: JournalSection, key: string, value: unknown];

const SECTION_SCHEMAS: Record<JournalSection, z.ZodType | null> = {
  e: manifestEntrySchema,
  u: pendingUploadSchema,
  d: pendingDeleteSchema,
  s: suspectSchema,
  x: unsettledSchema,
  t: null,
  f: folderSchema,
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
    if (!Object.hasOwn(SECTION_SCHEMAS, section)) throw new Error(`op ${i} names no section`);
    const value: unknown = op[2];
    if (value === null) {
      ops.push([section, op[1], null]);
      continue;
    }
    const schema = SECTION_SCHEMAS[section];
    if (schema === null) {
      if (!isPlainObject(value)) throw new Error(`op ${i}: stats is not an object`);
      ops.push([section, op[1], { ...value }]);
      continue;
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new Error(`op ${i}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    ops.push([section, op[1], parsed.data]);
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
