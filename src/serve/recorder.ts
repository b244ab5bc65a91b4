/**
 * Executor outcomes and held deletes as change events: one place that turns them into entries of
 * the durable event log, for the daemon's hub and for a one-off `files-sync sync` alike, so that a
 * consumer following /v1/events or `files-sync events` sees every change, whoever made it.
 */
import type { Logger } from 'pino';
import type { OpOutcome } from '../sync/execute.js';
import { errorMessage } from '../errors.js';
import { changeFromOutcome, type ChangeInput, type ChangeSink } from './change-events.js';
import { EventLog } from './event-log.js';

/**
 * The event log for a command that changes the remote without the daemon (`sync`,
 * `release-deletes`); the caller holds the state-dir lock. A log that cannot be opened is a
 * warning, not a failure: the files still sync, the changes are just not recorded.
 */
export async function openCommandEventLog(stateDir: string, logger: Logger): Promise<EventLog | undefined> {
  try {
    return await EventLog.open(stateDir, {
      onWriteError: (err) => logger.warn({ err: errorMessage(err) }, 'event log write failed'),
    });
  } catch (err) {
    logger.warn({ err: errorMessage(err) }, 'cannot open the event log; changes are not recorded');
    return undefined;
  }
}

/**
 * Where a one-off command's changes go: the event log (when it opened) and the folder's store,
 * which keeps a history of its own with PostgreSQL (files_sync.events).
 */
export function commandChangeSink(
  log: EventLog | undefined,
  store: { recordChange?: (change: ChangeInput) => void },
): ChangeSink {
  return {
    record(change) {
      log?.record(change);
      store.recordChange?.(change);
    },
  };
}

/** Records the visible change of a finished operation, if it has one. */
export function recordOutcome(
  sink: ChangeSink,
  folder: string,
  outcome: OpOutcome,
  currentId: (path: string) => string | undefined,
): void {
  const change = changeFromOutcome(folder, outcome, currentId);
  if (change) sink.record(change);
}

/** Records that the safety guard holds `count` deletes of a folder (a `held` event). */
export function recordHeld(
  sink: ChangeSink,
  folder: string,
  count: number,
  reason: string | undefined,
): void {
  sink.record({
    type: 'held',
    folder,
    path: null,
    fileId: null,
    previousFileId: null,
    count,
    reason,
    time: new Date().toISOString(),
  });
}
