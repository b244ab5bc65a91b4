/**
 * Delete guards: a pure check that holds back deletes when a pass looks like an accident
 * (unmounted disk, emptied folder, a wrong path in the config) rather than a user's intent.
 */
import type { SyncOp } from './ops.js';

/** Below this many deletes the percentage rule does not apply: deleting 2 of 5 files is normal use. */
const PERCENT_GUARD_FLOOR = 10;

export interface SafetyLimits {
  maxDeletes: number;
  maxDeletePercent: number;
}

export interface SafetyInput {
  ops: readonly SyncOp[];
  /** Paths the manifest tracks before this pass. */
  trackedCount: number;
  /** Local files found by this pass (full scans only; undefined for watcher batches). */
  localCount?: number | undefined;
  limits: SafetyLimits;
  allowMassDelete: boolean;
}

export interface SafetyVerdict {
  /** Operations cleared to run. */
  allowed: SyncOp[];
  /** Deletes held back, with the reason; nothing is lost, they are retried once released. */
  held: Array<Extract<SyncOp, { kind: 'delete' }>>;
  reason?: string;
}

/** Splits planned operations into those cleared to run and deletes held by the guards. */
export function guardDeletes(input: SafetyInput): SafetyVerdict {
  const deletes = input.ops.filter((o): o is Extract<SyncOp, { kind: 'delete' }> => o.kind === 'delete');
  const others = input.ops.filter((o) => o.kind !== 'delete');
  if (deletes.length === 0 || input.allowMassDelete) return { allowed: [...input.ops], held: [] };
  const { maxDeletes, maxDeletePercent } = input.limits;
  let reason: string | undefined;
  if (input.localCount === 0 && input.trackedCount > 0) {
    reason = `the folder is empty but ${input.trackedCount} files are tracked (an unmounted disk or a wrong path?)`;
  } else if (deletes.length > maxDeletes) {
    reason = `${deletes.length} deletes exceed safety.maxDeletes (${maxDeletes})`;
  } else if (
    deletes.length >= PERCENT_GUARD_FLOOR &&
    input.trackedCount > 0 &&
    (deletes.length / input.trackedCount) * 100 > maxDeletePercent
  ) {
    const pct = ((deletes.length / input.trackedCount) * 100).toFixed(1);
    reason = `${deletes.length} deletes are ${pct}% of ${input.trackedCount} tracked files, over safety.maxDeletePercent (${maxDeletePercent}%)`;
  }
  if (reason === undefined) return { allowed: [...input.ops], held: [] };
  return {
    allowed: others,
    held: deletes,
    reason: `${reason}; if they are meant, release them with \`files-sync release-deletes\` (asks a running daemon) or \`sync --allow-mass-delete\``,
  };
}
