/** `files-sync sync`: one full reconciliation of every (or the named) folder, then exit. */
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { acquireLock } from '../state/lock.js';
import { openFolderSession, reconcileSession } from '../sync/session.js';
import type { ReconcileReport } from '../sync/reconcile.js';
import { isUploadOp, opWhere, type SyncOp } from '../sync/ops.js';
import { displayPath } from '../local/display-name.js';
import {
  commandLogger,
  createClient,
  EXIT,
  loadCliConfig,
  runCommand,
  type CommonOptions,
} from './common.js';
import { ProgressLine, SyncProgress } from './progress.js';
import { humanLogDestination } from './human-log.js';
import { formatBytes } from './human.js';
import { recordLastSync } from './last-sync.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  CHANGED_REASONS,
  failureReason,
  formatNotMirrored,
  notMirrored,
  type NotMirrored,
} from '../sync/not-mirrored.js';
import type { FilesClient } from '../api/client.js';
import { commandChangeSink, openCommandEventLog, recordHeld, recordOutcome } from '../serve/recorder.js';
import type { ChangeSink } from '../serve/change-events.js';

interface SyncOptions extends CommonOptions {
  dryRun?: boolean;
  json?: boolean;
  allowMassDelete?: boolean;
}

/** One planned operation for people: where, and how much an upload sends. */
function dryRunLine(op: SyncOp): string {
  const size = isUploadOp(op) ? ` (${formatBytes(op.local.size)})` : '';
  return `${op.kind} ${displayPath(opWhere(op))}${size}`;
}

/** Human summary of one folder's pass. */
function formatReport(r: ReconcileReport, dryRun: boolean, nm: NotMirrored): string {
  const c = r.counts;
  const lines: string[] = [];
  if (r.status === 'unavailable')
    return `${r.folder}: folder unavailable, nothing changed (${r.error ?? 'unknown error'})`;
  if (r.error !== undefined) return `${r.folder}: FAILED, nothing changed: ${r.error}`;
  if (dryRun) {
    lines.push(
      `${r.folder}: would upload ${c.upload + c.reupload}, replace ${c.replace}, delete ${c.delete}, move ${c.move}, refresh ${c.refresh}; ${r.unchanged} unchanged, ${r.hashed} hashed`,
    );
  } else {
    lines.push(
      `${r.folder}: uploaded ${r.uploaded}, replaced ${r.replaced}, deleted ${r.deleted}, moved ${r.moved}, skipped ${r.skipped.length}, failed ${r.failed.length}; ${r.unchanged} unchanged, ${r.hashed} hashed, ${r.localFiles} local files (${(r.durationMs / 1000).toFixed(1)} s)`,
    );
  }
  if (r.heldDeletes > 0) lines.push(`  held ${r.heldDeletes} deletes: ${r.heldReason ?? ''}`);
  if (r.unmanagedRemote > 0)
    lines.push(`  ${r.unmanagedRemote} remote files are not managed by this folder (left untouched)`);
  // Symlinks are skipped by design (followSymlinks is off): count them, list only the surprising skips.
  const byReason = new Map<string, number>();
  for (const s of r.skipped) byReason.set(s.reason, (byReason.get(s.reason) ?? 0) + 1);
  if (byReason.size > 0)
    lines.push(`  skipped: ${[...byReason].map(([reason, n]) => `${n} ${reason}`).join(', ')}`);
  const notable = r.skipped.filter((s) => s.reason !== 'symlink');
  for (const s of notable.slice(0, 20))
    lines.push(`  skipped ${s.path}: ${s.reason}${'detail' in s && s.detail ? ` (${s.detail})` : ''}`);
  if (notable.length > 20) lines.push(`  ... and ${notable.length - 20} more skipped`);
  // Failures that share one cause (API down, storage full) are counted, not listed one by one.
  const own = r.failed.filter((f) => failureReason(f) === 'failed');
  for (const f of own.slice(0, 20)) lines.push(`  FAILED ${f.kind} ${f.path}: ${f.error}`);
  if (own.length > 20) lines.push(`  ... and ${own.length - 20} more failed`);
  if (!dryRun) {
    const summary = formatNotMirrored(nm);
    if (summary !== undefined) lines.push(`  ${summary}`);
  }
  if (dryRun) {
    for (const op of r.ops.slice(0, 50)) lines.push(`  ${dryRunLine(op)}`);
    if (r.ops.length > 50)
      lines.push(`  ... and ${r.ops.length - 50} more (all of them: files-sync sync --dry-run --json)`);
  }
  return lines.join('\n');
}

/** Paths of files that changed during the run and no longer exist: deleted meanwhile, nothing left to mirror. */
async function goneSince(root: string, r: ReconcileReport): Promise<Set<string>> {
  const gone = new Set<string>();
  for (const s of r.skipped) {
    if (!CHANGED_REASONS.has(s.reason)) continue;
    const exists = await fs.lstat(path.join(root, ...s.path.split('/'))).then(
      () => true,
      () => false,
    );
    if (!exists) gone.add(s.path);
  }
  return gone;
}

/**
 * The one message for a run the API stopped (breaker open) or the storage quota cut short; the
 * per-folder lines only count the files it cost.
 */
function apiHealthMessage(client: FilesClient, reports: readonly ReconcileReport[]): string | undefined {
  const h = client.health.snapshot();
  const count = (reason: string): number =>
    reports.reduce((n, r) => n + r.failed.filter((f) => failureReason(f) === reason).length, 0);
  const lines: string[] = [];
  if (h.breaker !== 'closed' && h.cause) {
    lines.push(
      `stopped sending requests: ${h.cause.message} (${h.cause.failures} failures in a row); ${count('api-unavailable')} operations not done. Run sync again once the API answers.`,
    );
  }
  if (h.quota) {
    lines.push(
      `storage quota exceeded: ${count('storage-quota')} uploads not done. Delete files from the organisation's Files API storage (or ask for a larger quota), then run sync again; deletes still ran.`,
    );
  }
  return lines.length > 0 ? lines.join('\nfiles-sync: ') : undefined;
}

/** Ctrl-C stops the requests in flight and ends the sync with a word on what was done; twice quits at once. */
function interruptOnCtrlC(progress: SyncProgress, logger: Logger): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSigint = () => {
    // Every upload writes its intent first: even quitting at once loses nothing a rerun cannot resolve.
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
    // Every op still queued now fails as aborted: one line below says it all, not one per file.
    logger.level = 'silent';
    progress.line.above('interrupted: stopping the requests in flight (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onSigint);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', onSigint) };
}

/** What an interrupted sync says before it exits 130. */
function interruptedMessage(progress: SyncProgress): string {
  const { files, bytes } = progress.done;
  return `files-sync: interrupted after ${files} files synced (${formatBytes(bytes)} uploaded); what finished is recorded. Run \`files-sync sync\` again to continue.`;
}

/** Registers `sync`. */
export function registerSyncCommand(program: Command): void {
  program
    .command('sync')
    .description(
      'Run one full reconciliation (scan, hash changes, list remote, upload/replace/delete) and exit',
    )
    .option('-c, --config <file>', 'config file (default: ./sync.config.json, $FILES_SYNC_CONFIG, ...)')
    .option('--folder <name...>', 'only these folders (by name)')
    .option('--dry-run', 'show what would change; change nothing')
    .option('--json', 'print a JSON report on stdout')
    .option('--allow-mass-delete', 'release deletes held by the safety guards')
    .option('--state-dir <dir>', 'override stateDir')
    .option('--concurrency <n>', 'override api.concurrency')
    .addHelpText(
      'after',
      `
Examples:
  $ files-sync sync                       # every folder in ./sync.config.json
  $ files-sync sync --folder docs --dry-run
  $ files-sync sync --json | jq '.[].uploaded'

On a terminal a progress line shows the phase, files and bytes done, rate and ETA. Ctrl-C stops
the requests in flight and says what was done; what finished is recorded and a rerun continues.
Held deletes: \`files-sync release-deletes\` (works while the daemon runs) or --allow-mass-delete.

Exit codes: 0 in sync, 1 some local file is not mirrored (API unreachable or refusing the key,
storage quota exceeded, listing incomplete, upload intents unresolved, a file refused or failed:
the summary counts them per reason; deletes held by the safety guard do not count), 64 bad flag,
69 the state database cannot be reached, 75 another process holds the state directory (or, with
PostgreSQL, another daemon holds the folder's lease), 78 configuration error, 130 interrupted (Ctrl-C).`,
    )
    .action((opts: SyncOptions) =>
      runCommand(async () => {
        const startedAt = Date.now();
        const { config } = await loadCliConfig(opts);
        // On a TTY the progress line owns stderr: log lines are printed readably above it.
        const progress = new SyncProgress(new ProgressLine());
        const logger = commandLogger(config, {
          json: opts.json === true,
          destination: progress.line.enabled ? humanLogDestination(progress.line) : undefined,
        });
        const client = await createClient(config, logger);
        const lock = await acquireLock(config.stateDir);
        // Changes made here go to the same durable log the daemon writes (we hold its lock now), so
        // a consumer following events sees them too. A dry run changes nothing and records nothing.
        const events = opts.dryRun === true ? undefined : await openCommandEventLog(config.stateDir, logger);
        const reports: ReconcileReport[] = [];
        const unsynced = new Map<ReconcileReport, NotMirrored>();
        const ctrlC = interruptOnCtrlC(progress, logger);
        try {
          for (const folder of config.folders) {
            if (ctrlC.signal.aborted) break;
            progress.startFolder(folder.name);
            let currentId: (rel: string) => string | undefined = () => undefined;
            let changes: ChangeSink | undefined;
            const session = await openFolderSession(config, folder, client, logger, {
              signal: ctrlC.signal,
              listAhead: client,
              walkAhead: true,
              onEvent: (e) => {
                if (e.type !== 'op-end' || !e.outcome) return;
                progress.onOpEnd(e.outcome);
                if (changes) recordOutcome(changes, folder.name, e.outcome, currentId);
              },
            });
            currentId = (rel) => session.manifest.get(rel)?.fileId;
            if (opts.dryRun !== true) changes = commandChangeSink(events, session.manifest);
            try {
              const report = await reconcileSession(session, config, client, {
                dryRun: opts.dryRun === true,
                allowMassDelete: opts.allowMassDelete === true,
                signal: ctrlC.signal,
                onProgress: (e) => progress.onScan(e),
                onPlan: (plan, held) => progress.onPlan(plan, held, opts.dryRun === true),
              });
              progress.line.finish();
              reports.push(report);
              if (changes && report.heldDeletes > 0)
                recordHeld(changes, folder.name, report.heldDeletes, report.heldReason);
              const nm = notMirrored(report, await goneSince(folder.path, report));
              unsynced.set(report, nm);
              if (!opts.json && !ctrlC.signal.aborted)
                process.stdout.write(`${formatReport(report, opts.dryRun === true, nm)}\n`);
            } finally {
              await session.close();
            }
          }
        } finally {
          ctrlC.dispose();
          progress.line.finish();
          await events?.close();
          await lock.release();
          await client.close();
        }
        if (opts.dryRun !== true) {
          const failed = await recordLastSync(config.stateDir, reports, startedAt, ctrlC.signal.aborted);
          if (failed)
            logger.warn({ err: failed.message }, 'could not record this sync for `files-sync status`');
        }
        if (ctrlC.signal.aborted) process.stderr.write(`${interruptedMessage(progress)}\n`);
        if (opts.json) {
          // The op list is what a dry run is for; after a real run the counts say it all.
          const out = reports.map((report) => {
            const { ops, ...r } = report;
            return opts.dryRun ? { ...r, ops } : { ...r, notMirrored: unsynced.get(report)?.reasons ?? [] };
          });
          process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        }
        if (ctrlC.signal.aborted) return 130;
        const apiProblem = apiHealthMessage(client, reports);
        if (apiProblem !== undefined) process.stderr.write(`files-sync: ${apiProblem}\n`);
        if (opts.dryRun) return reports.some((r) => r.status !== 'ok') ? EXIT.failed : EXIT.ok;
        return reports.some((r) => unsynced.get(r)?.incomplete !== false) ? EXIT.failed : EXIT.ok;
      }),
    );
}
