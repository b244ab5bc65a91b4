/** The daemon's status as shown by `files-sync status` and GET /status. */
import type { Suspect } from './types.js';

export interface FolderStatus {
  name: string;
  root: string;
  /** 'watching' | 'reconcile-only' (watcher failed, e.g. inotify limit) | 'unavailable' | 'starting' | 'stopped' */
  mode: 'starting' | 'watching' | 'reconcile-only' | 'unavailable' | 'stopped';
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

export interface DaemonStatus {
  pid: number;
  startedAt: string;
  uptimeSeconds: number;
  version: string;
  configPath: string;
  /** When this snapshot was written. */
  updatedAt: string;
  folders: FolderStatus[];
}

/** File name of the status snapshot the daemon keeps in its state directory. */
export const STATUS_FILE = 'status.json';
