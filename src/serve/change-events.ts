/**
 * The change vocabulary consumers see on /v1/events and in the event log: what happened to which
 * path's file ID. Made from the executor's outcomes (one place: the daemon's outcome callback).
 *
 * An expiry is one `expired` event, sent once the new copy is up: `previousFileId` is the expired
 * ID, `fileId` the new one, so a cache swaps them in one step (as for `replaced`) and never sees
 * a path without an ID. `reason` says whether the old copy is gone already (`expired`) or was
 * replaced ahead of its expires_at (`expiring`: still readable until then, listed in `previous`).
 * If the new upload fails no event is sent; the lookup shows the path as failed.
 */
import type { OpOutcome } from '../sync/execute.js';
import type { StateChangeEvent } from '../state/postgres/store.js';

export const CHANGE_TYPES = ['uploaded', 'replaced', 'moved', 'deleted', 'expired', 'held'] as const;
export type ChangeType = (typeof CHANGE_TYPES)[number];

/** A change before the event log numbered it (the fields are described on StateChangeEvent). */
export interface ChangeInput extends StateChangeEvent {
  type: ChangeType;
}

/** A recorded change: `id` increases by one per event, across restarts. */
export interface ChangeEvent extends ChangeInput {
  id: number;
}

/** Where changes go; the daemon's serve layer implements it, a test may collect them. */
export interface ChangeSink {
  record(change: ChangeInput): void;
}

/**
 * The change an executor outcome means for consumers, or null when none is visible (failures,
 * stat refreshes, intents, discards of files nobody knew). `currentId` reads the manifest for a
 * move, whose outcome carries no file ID.
 */
export function changeFromOutcome(
  folder: string,
  outcome: OpOutcome,
  currentId: (path: string) => string | undefined,
  now: Date = new Date(),
): ChangeInput | null {
  if (outcome.status !== 'done') return null;
  const { op } = outcome;
  const time = now.toISOString();
  switch (op.kind) {
    case 'upload':
      return {
        type: 'uploaded',
        folder,
        path: op.path,
        fileId: outcome.fileId ?? null,
        previousFileId: null,
        time,
      };
    case 'reupload': {
      const change: ChangeInput = {
        type: op.reason === 'vanished' ? 'uploaded' : 'expired',
        folder,
        path: op.path,
        fileId: outcome.fileId ?? null,
        previousFileId: op.oldFileId,
        time,
      };
      if (op.reason !== 'vanished') change.reason = op.reason;
      return change;
    }
    case 'replace':
      return {
        type: 'replaced',
        folder,
        path: op.path,
        fileId: outcome.fileId ?? null,
        previousFileId: op.oldFileId,
        time,
      };
    case 'adopt':
      return {
        type: op.oldFileId !== undefined ? 'replaced' : 'uploaded',
        folder,
        path: op.path,
        fileId: outcome.fileId ?? op.remote.id,
        previousFileId: op.oldFileId ?? null,
        time,
      };
    case 'move': {
      const id = currentId(op.to) ?? null;
      const change: ChangeInput = {
        type: 'moved',
        folder,
        path: op.to,
        fileId: id,
        previousFileId: null,
        time,
      };
      // A move that took its ID back from the delete queue names no old path: that path was
      // announced deleted when it was queued, and may hold another file by now.
      if (op.queued === undefined) change.fromPath = op.from;
      return change;
    }
    case 'delete':
    case 'forget':
      // fileId names the ID that is gone, so a cache can drop it by either key.
      return { type: 'deleted', folder, path: op.path, fileId: op.fileId, previousFileId: null, time };
    default:
      return null;
  }
}
