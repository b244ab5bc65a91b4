/**
 * Delete guards: hold back deletes when they look like an accident (unmounted disk, emptied
 * folder, a wrong path in the config) rather than a user's intent. The thresholds are judged on
 * the whole picture, never batch by batch: the deletes of this plan, plus every removal already
 * queued (waiting for its retention time) or held, plus those sent within a sliding window.
 */
import type { SyncOp } from './ops.js';

/**
 * Below this many deletes in all (planned + queued + held + recently sent) the percentage rule
 * does not apply: deleting 2 of 5 files is normal use. The count is cumulative, so a folder
 * emptied one file at a time crosses it like one emptied at once.
 */
const PERCENT_GUARD_FLOOR = 10;
/** How long a sent removal keeps counting against the thresholds. */
export const DELETE_WINDOW_MS = 15 * 60_000;

export interface SafetyLimits {
  maxDeletes: number;
  maxDeletePercent: number;
}

/** Removals outside this plan that count against the thresholds. */
export interface DeleteLoad {
  /** Removals queued (waiting for retention or to be sent) or held from earlier plans. */
  queued: number;
  /** Removals sent within the sliding window. */
  recentlySent: number;
}

export interface SafetyInput {
  ops: readonly SyncOp[];
  /** Paths the manifest tracks before this pass. */
  trackedCount: number;
  /** Local files found by this pass (full scans only; undefined for watcher batches). */
  localCount?: number | undefined;
  limits: SafetyLimits;
  allowMassDelete: boolean;
  /** Removals outside this plan; none when undefined. */
  load?: DeleteLoad | undefined;
}

export interface SafetyVerdict {
  /** Operations cleared to run. */
  allowed: SyncOp[];
  /** Deletes held back, with the reason; nothing is lost, they are retried once released. */
  held: Array<Extract<SyncOp, { kind: 'delete' }>>;
  reason?: string;
}

/** How to release held deletes, said with every hold. */
export const RELEASE_HINT =
  'if they are intended, release them with `files-sync release-deletes` (asks a running daemon) or `files-sync sync --allow-mass-delete`; if not, restore the files';

/**
 * Why `count` removals out of `tracked + count` would be too many, or undefined when they are not.
 * `tracked` is what the manifest still tracks; the removals were (or will be) taken out of it.
 */
export function overLimit(count: number, tracked: number, limits: SafetyLimits): string | undefined {
  const { maxDeletes, maxDeletePercent } = limits;
  if (count > maxDeletes)
    return `${count} deletes (this pass, queued and sent in the last ${DELETE_WINDOW_MS / 60_000} min) exceed safety.maxDeletes (${maxDeletes})`;
  const base = tracked + count;
  if (count >= PERCENT_GUARD_FLOOR && base > 0 && (count / base) * 100 > maxDeletePercent) {
    const pct = ((count / base) * 100).toFixed(1);
    return `${count} deletes (this pass, queued and sent in the last ${DELETE_WINDOW_MS / 60_000} min) are ${pct}% of ${base} tracked files, over safety.maxDeletePercent (${maxDeletePercent}%)`;
  }
  return undefined;
}

/** Splits planned operations into those cleared to run and deletes held by the guards. */
export function guardDeletes(input: SafetyInput): SafetyVerdict {
  const deletes = input.ops.filter((o): o is Extract<SyncOp, { kind: 'delete' }> => o.kind === 'delete');
  const others = input.ops.filter((o) => o.kind !== 'delete');
  if (deletes.length === 0 || input.allowMassDelete) return { allowed: [...input.ops], held: [] };
  const load = input.load ?? { queued: 0, recentlySent: 0 };
  let reason: string | undefined;
  if (input.localCount === 0 && input.trackedCount > 0) {
    reason = `the folder is empty but ${input.trackedCount} files are tracked (an unmounted disk or a wrong path?)`;
  } else {
    const outside = load.queued + load.recentlySent;
    // The plan's deletes are still tracked; the others were taken out of the manifest already.
    reason = overLimit(deletes.length + outside, input.trackedCount - deletes.length, input.limits);
  }
  if (reason === undefined) return { allowed: [...input.ops], held: [] };
  return {
    allowed: others,
    held: deletes,
    reason: `${reason}; ${RELEASE_HINT}`,
  };
}

/**
 * One folder's memory of its removals for the guard: which paths' deletes are held, when each
 * removal was sent (the sliding window), and whether the current hold was announced already.
 */
export class DeleteGuardState {
  private readonly sentAt: number[] = [];
  readonly heldPaths = new Set<string>();
  reason: string | undefined;
  private announced = false;

  constructor(private readonly now: () => number = Date.now) {}

  /** Removals sent within the window. */
  recentlySent(): number {
    const cutoff = this.now() - DELETE_WINDOW_MS;
    while (this.sentAt.length > 0 && this.sentAt[0]! < cutoff) this.sentAt.shift();
    return this.sentAt.length;
  }

  recordSent(): void {
    this.sentAt.push(this.now());
  }

  /**
   * Records a hold (or its end, with `reason` undefined); true when it is a new hold that must be
   * announced (held deletes are reported once, not on every batch).
   */
  setHeld(reason: string | undefined): boolean {
    this.reason = reason;
    if (reason === undefined) {
      this.announced = false;
      return false;
    }
    if (this.announced) return false;
    this.announced = true;
    return true;
  }
}
