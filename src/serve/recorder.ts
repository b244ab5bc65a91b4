/**
 * Executor outcomes and held deletes as change events: one place that turns them into entries of
 * the durable event log, for the daemon's hub and for a one-off `files-sync sync` alike, so that a
 * consumer following /v1/events or `files-sync events` sees every change, whoever made it.
 */
import type { OpOutcome } from '../sync/execute.js';
import { changeFromOutcome, type ChangeSink } from './change-events.js';

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
