/** `files-sync status`: what the daemon is doing, from the snapshot it keeps in the state directory. */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { clientForFolder } from '../api/client.js';
import type { Config } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import { displayPath } from '../local/display-name.js';
import { STATUS_FILE, type DaemonStatus, type FolderLease, type FolderStatus } from '../status.js';
import type { PendingDelete } from '../types.js';
import { openFolderReader } from '../state/open-store.js';
import { PgConnectionError, PgSchemaError } from '../state/postgres/errors.js';
import { isProcessAlive } from '../state/process.js';
import { ManifestNotFoundError } from '../state/errors.js';
import { formatLastSync, readLastSync } from './last-sync.js';
import {
  commandLogger,
  createClient,
  EXIT,
  loadCliConfig,
  runCommand,
  type CommonOptions,
} from './common.js';

interface StatusOptions extends CommonOptions {
  json?: boolean;
  remote?: boolean;
}

/** What `--remote` learnt of a folder's recorded IDs that may be gone: suspects and queued deletes. */
interface RemoteCheck {
  suspects: number;
  /** Suspects the server no longer has (the next reconciliation forgets them). */
  suspectsGone: string[];
  queuedDeletes: number;
  /** Queued deletes whose file is already gone (expired, or deleted elsewhere). */
  queuedDeletesGone: string[];
  error?: string;
}

/**
 * Looks up each folder's suspects and queued deletes by ID in the folder's own workspace (the ids
 * filter, 100 a request): a few requests instead of listing every file of the workspace.
 */
async function checkRemote(config: Config, json: boolean): Promise<Map<string, RemoteCheck>> {
  const out = new Map<string, RemoteCheck>();
  const client = await createClient(config, commandLogger(config, { json }));
  try {
    for (const f of config.folders) {
      const m = await openFolderReader(config, f.name).catch(() => undefined);
      if (!m) continue;
      const suspects = m.suspects().map((x) => x.fileId);
      const deletes = m.pendingDeletes().map((d) => d.fileId);
      const check: RemoteCheck = {
        suspects: suspects.length,
        suspectsGone: [],
        queuedDeletes: deletes.length,
        queuedDeletesGone: [],
      };
      out.set(f.name, check);
      if (suspects.length + deletes.length === 0) continue;
      try {
        const found = new Set(
          (await clientForFolder(client, f).retrieveMany([...suspects, ...deletes])).map((x) => x.id),
        );
        check.suspectsGone = suspects.filter((id) => !found.has(id));
        check.queuedDeletesGone = deletes.filter((id) => !found.has(id));
      } catch (err) {
        check.error = errorMessage(err);
      }
    }
  } finally {
    await client.close();
  }
  return out;
}

/** The delete queue as stored: what still waits for its retention time, and when the next is due. */
function deleteQueueOf(deletes: readonly PendingDelete[]): NonNullable<FolderStatus['deleteQueue']> {
  const now = Date.now();
  let waiting = 0;
  let next: number | undefined;
  for (const d of deletes) {
    const t = d.notBefore === undefined ? now : Date.parse(d.notBefore);
    if (t <= now) continue;
    waiting++;
    if (next === undefined || t < next) next = t;
  }
  const q: NonNullable<FolderStatus['deleteQueue']> = { waiting, due: deletes.length - waiting };
  if (next !== undefined) q.nextDueAt = new Date(next).toISOString();
  return q;
}

/** The folder's lease in a line: who owns it (this daemon or which other), and how old its heartbeat is. */
function leaseLine(l: FolderLease): string {
  const who = `${l.ownerHost} pid ${l.ownerPid}`;
  return l.ownedByThisDaemon
    ? `lease: owned by this daemon (${who}), heartbeat ${l.ageSeconds} s ago`
    : `lease: owned by ${who}, heartbeat ${l.ageSeconds} s ago; this daemon stands by`;
}

/** Registers `status`. */
export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description(
      'Show per folder: mode, files tracked, pending uploads/deletes, held deletes, the delete queue, suspects, last reconciliation, last error, lease owner (PostgreSQL), daemon pid/uptime',
    )
    .option('-c, --config <file>', 'config file')
    .option('--json', 'JSON on stdout')
    .option('--remote', "also look up suspects and queued deletes by ID in each folder's workspace")
    .option('--state-dir <dir>', 'override stateDir')
    .addHelpText(
      'after',
      `
Examples:
  $ files-sync status
  $ files-sync status --json | jq '.folders[] | {name, pendingUploads}'

Shows the last one-off \`files-sync sync\` too (when, result, counts), for runs from cron.
--remote asks the API (by ID, a request per 100 IDs, in each folder's own workspace) which
suspects and queued deletes are already gone; without it status makes no request.

Exit codes: 0 daemon running, 3 not running (the manifest figures are still shown), 64 bad flag,
78 configuration error.`,
    )
    .action((opts: StatusOptions) =>
      runCommand(async () => {
        const { config } = await loadCliConfig(opts, { checkPaths: false });
        let snap: DaemonStatus | undefined;
        try {
          snap = JSON.parse(
            await fs.readFile(path.join(config.stateDir, STATUS_FILE), 'utf8'),
          ) as DaemonStatus;
        } catch {
          snap = undefined;
        }
        const running =
          snap !== undefined && isProcessAlive(snap.pid) && !snap.folders.every((f) => f.mode === 'stopped');
        const folders = [];
        /** Folders with no manifest yet: shown as "not synced yet", not as "stopped, 0 tracked". */
        const neverSynced = new Set<string>();
        for (const f of config.folders) {
          const live = running ? snap?.folders.find((s) => s.name === f.name) : undefined;
          if (live) {
            folders.push(live);
            continue;
          }
          const m = await openFolderReader(config, f.name).catch((err: unknown) => {
            if (err instanceof ManifestNotFoundError) neverSynced.add(f.name);
            // An unreachable database is not "0 files tracked": say so.
            else if (err instanceof PgConnectionError || err instanceof PgSchemaError) throw err;
            return undefined;
          });
          folders.push({
            name: f.name,
            root: f.path,
            mode: 'stopped' as const,
            filesTracked: m ? [...m.entries()].length : 0,
            pendingUploads: m?.pendingUploads().length ?? 0,
            pendingDeletes: m?.pendingDeletes().length ?? 0,
            heldDeletes: 0,
            queueDepth: 0,
            suspects: m?.suspects() ?? [],
            unsettledUploads: m?.unsettled().length ?? 0,
            deleteQueue: deleteQueueOf(m?.pendingDeletes() ?? []),
          });
        }
        const lastSync = await readLastSync(config.stateDir);
        const remote = opts.remote ? await checkRemote(config, opts.json === true) : undefined;
        if (remote)
          for (const f of folders) {
            const r = remote.get(f.name);
            if (r) Object.assign(f, { remote: r });
          }
        const out = {
          running,
          pid: running ? snap!.pid : null,
          startedAt: running ? snap!.startedAt : null,
          uptimeSeconds: running ? snap!.uptimeSeconds : null,
          updatedAt: snap?.updatedAt ?? null,
          api: running ? (snap!.api ?? null) : null,
          folders,
          lastSync: lastSync ?? null,
        };
        if (opts.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        else {
          process.stdout.write(
            running
              ? `daemon running: pid ${snap!.pid}, up ${snap!.uptimeSeconds} s (snapshot ${snap!.updatedAt})\n`
              : 'daemon not running\n',
          );
          const api = running ? snap!.api : undefined;
          if (api?.state === 'degraded')
            process.stdout.write(
              `Files API: DEGRADED: ${api.reason ?? 'failing'} (since ${api.since ?? '?'}; probing, next ${api.nextProbeAt ?? 'soon'})\n`,
            );
          if (api?.uploadsPaused)
            process.stdout.write(
              `uploads PAUSED: ${api.uploadsPaused.reason} (since ${api.uploadsPaused.since}; next try ${api.uploadsPaused.retryAt})\n`,
            );
          if (lastSync) process.stdout.write(`${formatLastSync(lastSync)}\n`);
          for (const f of folders) {
            if (neverSynced.has(f.name)) {
              process.stdout.write(
                `${f.name} (${displayPath(f.root)}): not synced yet (run \`files-sync sync\` or start the daemon)\n`,
              );
              continue;
            }
            process.stdout.write(
              `${f.name} (${displayPath(f.root)}): ${f.mode}, ${f.filesTracked} tracked, ${f.pendingUploads} pending uploads, ${f.pendingDeletes} pending deletes, ${f.heldDeletes} held deletes, queue ${f.queueDepth}\n`,
            );
            if ('modeReason' in f && f.modeReason !== undefined)
              process.stdout.write(`  ${f.mode}: ${displayPath(f.modeReason)}\n`);
            if ('lease' in f && f.lease !== undefined) process.stdout.write(`  ${leaseLine(f.lease)}\n`);
            if ('lastReconcile' in f && f.lastReconcile)
              process.stdout.write(
                `  last reconciliation ${f.lastReconcile.at}: ${f.lastReconcile.result} (${f.lastReconcile.uploaded} up, ${f.lastReconcile.deleted} del, ${f.lastReconcile.failed} failed, ${f.lastReconcile.durationMs} ms)\n`,
              );
            if ('heldReason' in f && f.heldReason)
              process.stdout.write(`  held: ${displayPath(f.heldReason)}\n`);
            const q = f.deleteQueue;
            if (q && q.waiting > 0)
              process.stdout.write(
                `  delete queue: ${q.waiting} old IDs kept valid for their retention${q.nextDueAt ? `, next due ${q.nextDueAt}` : ''}\n`,
              );
            if (f.unsettledUploads)
              process.stdout.write(
                `  ${f.unsettledUploads} unanswered uploads still to be looked for by a later reconciliation\n`,
              );
            for (const x of f.suspects ?? [])
              process.stdout.write(
                `  suspect ${x.fileId} ${displayPath(x.filename)} (${x.sizeBytes} bytes, created ${x.createdAt}) for ${displayPath(x.path)}: ${x.why}\n`,
              );
            const r = remote?.get(f.name);
            if (r?.error) process.stdout.write(`  remote check failed: ${displayPath(r.error)}\n`);
            else if (r)
              process.stdout.write(
                `  remote: ${r.suspects - r.suspectsGone.length} of ${r.suspects} suspects still on the server; ${r.queuedDeletesGone.length} of ${r.queuedDeletes} queued deletes already gone\n`,
              );
            if ('lastError' in f && f.lastError)
              process.stdout.write(
                `  last error ${f.lastError.at}: ${f.lastError.path ? `${displayPath(f.lastError.path)}: ` : ''}${displayPath(f.lastError.message)}\n`,
              );
          }
        }
        return running ? EXIT.ok : 3;
      }),
    );
}
