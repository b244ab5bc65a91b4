// What other folders sharing the workspace claim, asked live before anything is adopted or deleted (other hosts write concurrently).
import type { SyncOp } from './ops.js';

/**
 * The other folders' claims on remote files, read where they are recorded (the shared database)
 * at the moment of asking, never a copy taken at open: another host may have recorded a file a
 * second ago. Every answer errs towards "claimed": a failed query throws, and nothing is adopted
 * or deleted on a guess.
 */
export interface ForeignClaims {
  /** Of these IDs, those another folder records now (an entry, a queued delete, a suspect). */
  claimed(ids: readonly string[]): Promise<ReadonlySet<string>>;
  /** Whether another folder has an unresolved upload of this remote name and size (intent or unsettled attempt). */
  uploading(remoteName: string, sizeBytes: number): Promise<boolean>;
  /** For a reconciliation: every ID other folders record, and the upload keys (uploadKey) of their unresolved uploads. */
  snapshot(): Promise<{ ids: ReadonlySet<string>; uploadKeys: ReadonlySet<string> }>;
}

/** The remote file an op would take or delete, if it is one that came from a listing. */
function candidateOf(op: SyncOp): string | undefined {
  if (op.kind === 'adopt' || op.kind === 'suspect') return op.remote.id;
  if (op.kind === 'discard') return op.fileId;
  return undefined;
}

/**
 * Drops the ops that would adopt, suspect or discard a file another folder recorded since the
 * plan was made (one query for all of them). An adopt's intent stays and the next pass resolves
 * it without that file; a discard's file simply is not ours.
 */
export async function withoutForeignClaims(
  ops: readonly SyncOp[],
  foreign: ForeignClaims,
): Promise<{ ops: SyncOp[]; dropped: SyncOp[] }> {
  const ids = ops.map(candidateOf).filter((id): id is string => id !== undefined);
  if (ids.length === 0) return { ops: [...ops], dropped: [] };
  const claimed = await foreign.claimed(ids);
  if (claimed.size === 0) return { ops: [...ops], dropped: [] };
  const kept: SyncOp[] = [];
  const dropped: SyncOp[] = [];
  for (const op of ops) {
    const id = candidateOf(op);
    (id !== undefined && claimed.has(id) ? dropped : kept).push(op);
  }
  return { ops: kept, dropped };
}
