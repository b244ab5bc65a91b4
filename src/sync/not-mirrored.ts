/** Why a finished full pass left local files without a remote copy, counted per reason (F5: nothing silent). */
import { BREAKER_OPEN_PREFIX, QUOTA_PAUSED_PREFIX } from '../api/breaker.js';

/** Skips that leave no regular file behind: symlinks not followed, FIFOs and sockets, paths gone meanwhile. */
const BY_DESIGN = new Set(['symlink', 'special', 'vanished']);

/** What the summary needs of a reconciliation report. */
export interface MirrorReport {
  status: string;
  error?: string | undefined;
  listingError?: string | undefined;
  skipped: ReadonlyArray<{ path: string; reason: string }>;
  failed: ReadonlyArray<{ path: string; error: string; httpStatus?: number | undefined }>;
}

/** One reason files were left unmirrored, how many, and what it means. */
export interface NotMirroredReason {
  reason: string;
  count: number;
}

export interface NotMirrored {
  /** True when the run must exit non-zero. */
  incomplete: boolean;
  /** The remote listing failed: intents stay unresolved and vanished remote copies go unseen. */
  listingError?: string | undefined;
  reasons: NotMirroredReason[];
}

/** The reason a failed operation is counted under: the cause shared by many, else "failed". */
export function failureReason(f: { error: string; httpStatus?: number | undefined }): string {
  if (f.error.startsWith(BREAKER_OPEN_PREFIX) || f.error.startsWith('not attempted:'))
    return 'api-unavailable';
  if (f.error.startsWith(QUOTA_PAUSED_PREFIX) || f.error.includes('storage_quota_exceeded'))
    return 'storage-quota';
  return 'failed';
}

/** Skips about a file that moved under us: not a file left behind when the path is gone by now. */
export const CHANGED_REASONS: ReadonlySet<string> = new Set([
  'changed-during-upload',
  'changed-or-unreadable',
]);

/**
 * Counts, per reason, what a full pass did not mirror; held deletes are not counted (they wait on
 * purpose), nor files that changed during the run and are `gone` from the folder by its end.
 */
export function notMirrored(r: MirrorReport, gone: ReadonlySet<string> = new Set()): NotMirrored {
  const counts = new Map<string, number>();
  const add = (reason: string): void => void counts.set(reason, (counts.get(reason) ?? 0) + 1);
  for (const s of r.skipped)
    if (!BY_DESIGN.has(s.reason) && !(CHANGED_REASONS.has(s.reason) && gone.has(s.path))) add(s.reason);
  for (const f of r.failed) add(failureReason(f));
  const reasons = [...counts].map(([reason, count]) => ({ reason, count }));
  const out: NotMirrored = {
    incomplete: r.status !== 'ok' || r.listingError !== undefined || reasons.length > 0,
    reasons,
  };
  if (r.listingError !== undefined) out.listingError = r.listingError;
  return out;
}

/** One line for people, e.g. "not mirrored: 220 pending-intent; remote listing incomplete (ECONNREFUSED)". */
export function formatNotMirrored(n: NotMirrored): string | undefined {
  if (!n.incomplete) return undefined;
  const parts = n.reasons.map((r) => `${r.count} ${r.reason}`);
  if (n.listingError !== undefined) parts.push(`remote listing incomplete (${n.listingError})`);
  return parts.length > 0 ? `NOT IN SYNC: ${parts.join(', ')}` : undefined;
}
