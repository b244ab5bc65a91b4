/**
 * The one log line per finished file operation (upload, replace, move, delete), like `rclone -v`.
 * A delete op queues the remote delete (ID retention); the executor's drain logs the delete it sends.
 */
import type { Logger } from 'pino';
import type { OpOutcome } from './execute.js';

/** The message of each op kind that changes a remote file or where it is recorded; others log at debug. */
const MESSAGES: Partial<Record<OpOutcome['op']['kind'], string>> = {
  upload: 'uploaded',
  reupload: 'uploaded again (remote copy vanished, expired or expiring)',
  replace: 'replaced',
  adopt: 'adopted an earlier upload',
  move: 'moved',
  delete: 'removed locally; remote copy queued for deletion',
  discard: 'stray upload queued for deletion',
};

/**
 * Logs one finished operation at info (a file changed remotely) or debug (bookkeeping), with the
 * path and the file IDs involved. Failures are logged where they happen, with their error; this
 * line is for what was done. `fileIdOf` names the file ID of a moved path (a move keeps it).
 */
export function logFileOp(
  logger: Logger,
  outcome: OpOutcome,
  fileIdOf?: (path: string) => string | undefined,
): void {
  if (outcome.status !== 'done') return;
  const { op } = outcome;
  const msg = MESSAGES[op.kind];
  switch (op.kind) {
    case 'upload':
      logger.info({ op: op.kind, path: op.path, fileId: outcome.fileId, size: op.local.size }, msg);
      return;
    case 'reupload':
      logger.info(
        {
          op: op.kind,
          path: op.path,
          fileId: outcome.fileId,
          oldFileId: op.oldFileId,
          reason: op.reason,
          size: op.local.size,
        },
        msg,
      );
      return;
    case 'replace':
      logger.info(
        { op: op.kind, path: op.path, fileId: outcome.fileId, oldFileId: op.oldFileId, size: op.local.size },
        msg,
      );
      return;
    case 'adopt':
      logger.info({ op: op.kind, path: op.path, fileId: op.remote.id, oldFileId: op.oldFileId }, msg);
      return;
    case 'move':
      // A move whose unlink synced earlier takes its ID back from the delete queue.
      logger.info(
        op.queued
          ? { op: op.kind, from: op.from, to: op.to, fileId: op.queued.fileId, fromDeleteQueue: true }
          : { op: op.kind, from: op.from, to: op.to, fileId: fileIdOf?.(op.to) },
        msg,
      );
      return;
    case 'delete':
    case 'discard':
      logger.info({ op: op.kind, path: op.path, fileId: op.fileId }, msg);
      return;
    case 'delete-done':
      logger.debug({ op: op.kind, fileId: op.fileId }, 'pending delete confirmed');
      return;
    default:
      logger.debug({ op: op.kind, path: op.path }, 'bookkeeping done');
  }
}
