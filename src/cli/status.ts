/** `files-sync status`: what the daemon is doing, from the snapshot it keeps in the state directory. */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { displayPath } from '../local/display-name.js';
import { STATUS_FILE, type DaemonStatus, type FolderStatus } from '../status.js';
import type { PendingDelete } from '../types.js';
import { openManifest } from '../state/manifest.js';
import { isProcessAlive } from '../state/process.js';
import { ManifestNotFoundError } from '../state/errors.js';
import { formatLastSync, readLastSync } from './last-sync.js';
import { EXIT, loadCliConfig, runCommand, type CommonOptions } from './common.js';

interface StatusOptions extends CommonOptions {
  json?: boolean;
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

/** Registers `status`. */
export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description(
      'Show per folder: files tracked, pending uploads/deletes, held deletes, the delete queue, suspects, last reconciliation, last error, daemon pid/uptime',
    )
    .option('-c, --config <file>', 'config file')
    .option('--json', 'JSON on stdout')
    .option('--state-dir <dir>', 'override stateDir')
    .addHelpText(
      'after',
      `
Examples:
  $ files-sync status
  $ files-sync status --json | jq '.folders[] | {name, pendingUploads}'

Shows the last one-off \`files-sync sync\` too (when, result, counts), for runs from cron.

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
          const m = await openManifest(config.stateDir, f.name).catch((err: unknown) => {
            if (err instanceof ManifestNotFoundError) neverSynced.add(f.name);
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
