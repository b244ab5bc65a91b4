/** The daemon's status as shown by `files-sync status` and GET /status. */
import type { Suspect } from './types.js';

export interface FolderStatus {
  name: string;
  root: string;
  /**
   * 'watching' | 'reconcile-only' (watcher failed, e.g. inotify limit) | 'unavailable' | 'starting'
   * | 'stopped' | 'standby' (PostgreSQL: another daemon holds the folder's lease; this one takes
   * over when it stops or dies) | 'paused' (PostgreSQL: the state database is unreachable).
   */
  mode: 'starting' | 'watching' | 'reconcile-only' | 'unavailable' | 'stopped' | 'standby' | 'paused';
  /** Why the folder is in standby or paused, e.g. "state database unreachable: ...". */
  modeReason?: string;
  /** PostgreSQL: the folder's lease as this daemon last saw it. */
  lease?: FolderLease;
  filesTracked: number;
  pendingUploads: number;
  pendingDeletes: number;
  heldDeletes: number;
  heldReason?: string;
  /** The delayed delete queue: deletes waiting for their retention time, and when the next is due. */
  deleteQueue?: { waiting: number; due: number; nextDueAt?: string };
  /** Remote files that may be ours but cannot be proven so: reported, never adopted. */
  suspects?: Suspect[];
  /** Unanswered uploads whose late copy a later listing still has to look for. */
  unsettledUploads?: number;
  queueDepth: number;
  lastReconcile?: {
    at: string;
    result: string;
    durationMs: number;
    uploaded: number;
    replaced: number;
    deleted: number;
    failed: number;
  };
  lastError?: { at: string; message: string; path?: string };
  watchedPaths?: number;
}

/** Who owns a folder (PostgreSQL backend): only the owner syncs it; the others stand by. */
export interface FolderLease {
  ownerHost: string;
  ownerPid: number;
  /** Seconds since the owner's last heartbeat that this daemon saw. */
  ageSeconds: number;
  /** True when this daemon holds the lease. */
  ownedByThisDaemon: boolean;
}

/** The Files API as the daemon's client sees it: the breaker and the storage-quota pause. */
export interface ApiStatus {
  /** 'degraded': the breaker is open (every request failed the same way); nothing is sent but probes. */
  state: 'ok' | 'degraded';
  /** Why, e.g. "API key refused (401): check ANTHROPIC_API_KEY" or "API unreachable (ECONNREFUSED)". */
  reason?: string;
  since?: string;
  nextProbeAt?: string;
  /** Set while uploads are paused because the organisation's storage quota is exceeded. */
  uploadsPaused?: { reason: string; since: string; retryAt: string };
}

export interface DaemonStatus {
  pid: number;
  startedAt: string;
  uptimeSeconds: number;
  version: string;
  configPath: string;
  /** When this snapshot was written. */
  updatedAt: string;
  folders: FolderStatus[];
  /** Absent in snapshots of older versions. */
  api?: ApiStatus;
}

/** File name of the status snapshot the daemon keeps in its state directory. */
export const STATUS_FILE = 'status.json';

/** What /healthz answers: healthy only when every folder runs and the API takes our requests. */
export interface Health {
  ok: boolean;
  /** Folders that are unavailable (e.g. root missing), paused (state database unreachable) or stopped. */
  unavailable: string[];
  /** One line per problem, e.g. "API key refused (401): check ANTHROPIC_API_KEY". */
  reasons: string[];
}

/** Judges a status snapshot the way /healthz, the degraded metric and `status` do. */
export function healthOf(s: DaemonStatus): Health {
  // A standby is healthy: standing by for another daemon's folder is its job.
  const bad = s.folders.filter(
    (f) => f.mode === 'unavailable' || f.mode === 'stopped' || f.mode === 'paused',
  );
  const reasons = bad.map((f) => {
    const why =
      f.mode === 'paused' ? f.modeReason : f.mode === 'unavailable' ? f.lastError?.message : undefined;
    return `folder ${f.name}: ${f.mode}${why !== undefined ? ` (${why})` : ''}`;
  });
  if (s.api?.state === 'degraded') reasons.push(s.api.reason ?? 'Files API degraded');
  if (s.api?.uploadsPaused) reasons.push(s.api.uploadsPaused.reason);
  return { ok: reasons.length === 0, unavailable: bad.map((f) => f.name), reasons };
}
