/** The config schema: validation, defaults and the JSON Schema export (`npm run gen:schema`). */
import { z } from 'zod';
import { checkGlob } from './globs.js';
import { checkListenAddress } from './listen.js';
import { FOLDER_NAME_PATTERN } from './folder-name.js';

/** Log levels accepted by `log.level` (pino's, plus `silent`). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Watcher backends the daemon knows; kept as an enum so another one can be measured later. */
/** parcel (native, one inotify watch per directory) is the default: at 100k files it needs a fraction of chokidar's memory. */
export const WATCH_BACKENDS = ['parcel', 'chokidar'] as const;

// Still importable from here: the schema is where users of the rule look for it.
export { FOLDER_NAME_PATTERN };

/** Below this a full reconciliation (one listing of every remote file) would run too often. */
export const MIN_RECONCILE_INTERVAL_MS = 10_000;

export const DEFAULT_BASE_URL = 'https://api.anthropic.com';

/** Files API contracts the client speaks: GA (default) or the legacy beta shapes. */
export const API_CONTRACTS = ['ga', 'beta'] as const;

/** The documented range of the upload field `expires_in_seconds`: one hour to ninety days. */
export const EXPIRES_IN_SECONDS_MIN = 3600;
export const EXPIRES_IN_SECONDS_MAX = 7_776_000;

// Workspace IDs look like wrkspc_011CZkZaBF1tNoB5wlCeusgy; a workspace *name* here is the likely mistake.
const WORKSPACE_ID_PATTERN = /^wrkspc_[A-Za-z0-9]+$/;

const workspaceId = (description: string) =>
  z
    .string()
    .superRefine((value, ctx) => {
      if (WORKSPACE_ID_PATTERN.test(value)) return;
      ctx.addIssue({
        code: 'custom',
        message: `must be a workspace ID like "wrkspc_011CZkZaBF1tNoB5wlCeusgy", got ${JSON.stringify(value.slice(0, 80))}`,
        params: {
          fix: 'copy the workspace ID (it starts with "wrkspc_") from the Console\'s workspace settings, not the workspace name',
        },
      });
    })
    .optional()
    .describe(description);

function int(min: number, max: number, fallback: number, description: string) {
  return z.int().min(min).max(max).default(fallback).describe(description);
}

const globList = (which: 'include' | 'exclude') =>
  z
    .array(
      z.string().superRefine((pattern, ctx) => {
        const problem = checkGlob(pattern);
        if (problem) ctx.addIssue({ code: 'custom', message: problem.message, params: { fix: problem.fix } });
      }),
    )
    .default([])
    .describe(
      which === 'include'
        ? 'Glob patterns (picomatch, relative to the folder, POSIX separators) of files to sync; empty means every file.'
        : 'Glob patterns of files and directories to leave out; exclude wins over include.',
    );

const apiSchema = z
  .strictObject({
    baseUrl: z
      .url({ protocol: /^https?$/ })
      .default(DEFAULT_BASE_URL)
      .describe('Files API base URL. ANTHROPIC_BASE_URL overrides it.'),
    keyFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Path of a file holding the API key (e.g. a systemd credential). ANTHROPIC_API_KEY wins when set. The key itself never goes in this file.',
      ),
    concurrency: int(1, 64, 4, 'Uploads and deletes in flight at once. FILES_SYNC_CONCURRENCY overrides it.'),
    timeoutMs: int(1_000, 3_600_000, 60_000, 'Timeout of one non-upload request, in ms.'),
    uploadTimeoutMs: int(1_000, 86_400_000, 600_000, 'Timeout of one upload request, in ms.'),
    connectTimeoutMs: int(100, 300_000, 10_000, 'TCP/TLS connect timeout, in ms.'),
    maxRetries: int(
      0,
      100,
      6,
      'Retries of one request after a retryable failure (429, 5xx, connection error).',
    ),
    maxRetryTimeMs: int(0, 86_400_000, 300_000, 'Upper bound on the time spent retrying one request, in ms.'),
    maxConnections: int(1, 256, 8, 'HTTP connections kept to the API.'),
    contract: z
      .enum(API_CONTRACTS)
      .default('ga')
      .describe(
        'Files API contract: "ga" (generally available API, no beta header; default) or "beta" (the legacy anthropic-beta: files-api-2025-04-14 shapes, for servers that still need them).',
      ),
    workspaceId: workspaceId(
      "Workspace to act on, sent as anthropic-workspace-id. Only needed when the API key can act on several workspaces; a folder's workspaceId overrides it.",
    ),
    workspaceExclusive: z
      .boolean()
      .default(false)
      .describe(
        'Declare the workspace dedicated to files-sync: remote files that our unanswered uploads may have created (suspects, late copies) are then deleted automatically. Default false (shared): nothing that is not provably ours is ever deleted; suspects are only reported.',
      ),
  })
  .describe('How files-sync talks to the Files API.');

const folderSchema = z
  .strictObject({
    name: z
      .string()
      .regex(FOLDER_NAME_PATTERN)
      .describe('Unique short name: lowercase letters, digits, ".", "_" or "-" (names the manifest file).'),
    path: z
      .string()
      .min(1)
      .describe('Local folder to mirror: absolute, "~/..." or relative to this config file\'s directory.'),
    include: globList('include'),
    exclude: globList('exclude'),
    followSymlinks: z.boolean().default(false).describe('Follow symbolic links (loops are detected).'),
    workspaceId: workspaceId(
      "Workspace this folder's files live in (overrides api.workspaceId); every request for the folder carries it.",
    ),
    expiresInSeconds: z
      .int()
      .min(EXPIRES_IN_SECONDS_MIN)
      .max(EXPIRES_IN_SECONDS_MAX)
      .optional()
      .describe(
        `Let the API delete each uploaded copy this many seconds after its upload (${EXPIRES_IN_SECONDS_MIN} = one hour to ${EXPIRES_IN_SECONDS_MAX} = ninety days). Omit to keep copies until files-sync deletes them.`,
      ),
  })
  .describe('One local folder mirrored into the Files API.');

const foldersSchema = z
  .array(folderSchema)
  .min(1)
  .superRefine((folders, ctx) => {
    const firstIndexByName = new Map<string, number>();
    folders.forEach((folder, index) => {
      const first = firstIndexByName.get(folder.name);
      if (first === undefined) {
        firstIndexByName.set(folder.name, index);
        return;
      }
      ctx.addIssue({
        code: 'custom',
        path: [index, 'name'],
        message: `duplicate folder name "${folder.name}" (also folders[${first}].name)`,
        params: { fix: 'give each folder a unique name' },
      });
    });
  })
  .describe('The folders to mirror; at least one. Paths must be unique and not nested in each other.');

const watchSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe('Watch folders for changes; false means periodic reconciliation only.'),
    // At least 100 ms: chokidar drops a second change of one path within 50 ms of the first.
    debounceMs: int(
      100,
      60_000,
      1_000,
      'Quiet period after the last change of a path before it is synced, in ms (100 or more).',
    ),
    backend: z
      .enum(WATCH_BACKENDS)
      .default('parcel')
      .describe(
        'File watcher: "parcel" (@parcel/watcher, light on large trees; default) or "chokidar". A folder with followSymlinks always uses chokidar.',
      ),
  })
  .describe('Live change detection.');

const reconcileSchema = z
  .strictObject({
    intervalMs: z
      .int()
      .min(0)
      .max(604_800_000)
      .superRefine((value, ctx) => {
        if (value > 0 && value < MIN_RECONCILE_INTERVAL_MS) {
          ctx.addIssue({
            code: 'custom',
            message: `must be 0 (off) or at least ${MIN_RECONCILE_INTERVAL_MS} (got ${value})`,
            params: {
              fix: `use 0 to turn periodic reconciliation off, or a value of at least ${MIN_RECONCILE_INTERVAL_MS}`,
            },
          });
        }
      })
      .default(900_000)
      .describe(
        `Full reconciliation period in ms; 0 turns it off, otherwise at least ${MIN_RECONCILE_INTERVAL_MS}.`,
      ),
    onStart: z.boolean().default(true).describe('Run a full reconciliation when the daemon starts.'),
  })
  .describe('Periodic full comparison of local folders, manifest and remote listing.');

const safetySchema = z
  .strictObject({
    maxDeletes: int(
      0,
      100_000_000,
      500,
      'Hold deletes when more than this many removals are queued, held or sent within 15 minutes (all counted together, never batch by batch).',
    ),
    maxDeletePercent: z
      .number()
      .min(0)
      .max(100)
      .default(25)
      .describe(
        'Hold deletes when the removals queued, held or sent within 15 minutes are more than this percentage of tracked files (from 10 removals on).',
      ),
  })
  .describe('Delete guards.');

const retentionSchema = z
  .strictObject({
    supersededMs: int(
      0,
      604_800_000,
      600_000,
      "How long a replaced version's file ID stays valid (consumers may still hold it) before it is deleted, in ms; 0 deletes at once.",
    ),
    removedMs: int(
      0,
      604_800_000,
      60_000,
      "How long a removed file's ID stays valid before it is deleted, in ms (a file of the same content and name appearing meanwhile takes it back: a move); 0 deletes at once.",
    ),
  })
  .describe('ID retention: old file IDs stay valid this long before their delete is sent (a durable queue).');

const logSchema = z
  .strictObject({
    level: z.enum(LOG_LEVELS).default('info').describe('Log level. FILES_SYNC_LOG_LEVEL overrides it.'),
  })
  .describe('Logging.');

const stateSchema = z
  .strictObject({
    backend: z
      .enum(['lowdb', 'postgres'])
      .default('lowdb')
      .describe(
        'Where folder state lives: "lowdb" (files in stateDir, the default) or "postgres" (a shared database; one daemon owns each folder at a time).',
      ),
    url: z
      .string()
      .min(1)
      .optional()
      .describe(
        'PostgreSQL URL for backend "postgres", e.g. postgres://files_sync@db.example:5432/files_sync. FILES_SYNC_DATABASE_URL overrides it. A password in it (here or in the env var) is refused: give it in PGPASSWORD or passwordFile.',
      ),
    passwordFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        "A file holding the database password on its first line, not readable by other users (chmod 600); relative to this file's directory. Else PGPASSWORD.",
      ),
  })
  .describe('The state store.');

const httpSchema = z
  .strictObject({
    listen: z
      .string()
      .superRefine((address, ctx) => {
        // The shape only here; whether a non-loopback host has its token is checked on the object.
        const problem = checkListenAddress(address, { hasToken: true });
        if (problem) ctx.addIssue({ code: 'custom', message: problem.message, params: { fix: problem.fix } });
      })
      .nullable()
      .default(null)
      .describe(
        'Address of the local HTTP endpoint (/healthz, /status, /metrics, /v1/lookup, /v1/events): "127.0.0.1:9464", or "unix:/run/files-sync/api.sock" for a Unix socket (created 0660); a non-loopback host needs tokenFile; null turns it off.',
      ),
    tokenFile: z
      .string()
      .min(1)
      .nullable()
      .default(null)
      .describe(
        "File holding a bearer token (first line) that every request but /healthz must send as 'Authorization: Bearer TOKEN'. Relative to this file's directory. Required for a non-loopback listen address.",
      ),
  })
  .superRefine((http, ctx) => {
    if (http.listen === null || http.tokenFile !== null) return;
    const problem = checkListenAddress(http.listen);
    if (problem)
      ctx.addIssue({
        code: 'custom',
        path: ['listen'],
        message: problem.message,
        params: { fix: problem.fix },
      });
  })
  .describe('Local HTTP endpoint.');

/** The schema of `sync.config.json` as a user writes it (defaults applied, paths not yet resolved). */
export const configFileSchema = z
  .strictObject({
    $schema: z.string().optional().describe('JSON Schema reference for editors; ignored.'),
    api: apiSchema.prefault({}),
    stateDir: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Where manifests and the lock live. Relative to this file's directory. Default, from this file's location: /etc/files-sync/config.json -> /var/lib/files-sync (NAME.json -> /var/lib/files-sync/NAME), ~/.config/files-sync/config.json -> ~/.local/state/files-sync (likewise), else .files-sync/NAME beside this file. $STATE_DIRECTORY and FILES_SYNC_STATE_DIR must agree with it.",
      ),
    folders: foldersSchema,
    watch: watchSchema.prefault({}),
    reconcile: reconcileSchema.prefault({}),
    safety: safetySchema.prefault({}),
    retention: retentionSchema.prefault({}),
    log: logSchema.prefault({}),
    http: httpSchema.prefault({}),
    state: stateSchema.prefault({}),
  })
  .describe(
    'Configuration of files-sync (sync.config.json). The API key never goes here: set ANTHROPIC_API_KEY or api.keyFile.',
  );

/** What the user may write (every field with a default is optional). */
export type ConfigFileInput = z.input<typeof configFileSchema>;
type ParsedConfigFile = z.output<typeof configFileSchema>;

/** The effective configuration: every default applied, every path absolute. */
export type Config = Omit<ParsedConfigFile, '$schema' | 'stateDir'> & { stateDir: string };
export type FolderConfig = Config['folders'][number];

/** The JSON Schema of the config file (input side: fields with defaults are optional). */
export function configJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(configFileSchema, { io: 'input', target: 'draft-2020-12' });
  return { ...generated, title: 'files-sync configuration' };
}

/** The exact text committed as sync.config.schema.json. */
export function renderConfigJsonSchema(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
