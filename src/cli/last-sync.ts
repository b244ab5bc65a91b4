/** The record of the last one-off `files-sync sync` in the state directory, so `status` can show it to cron users. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../state/atomic-write.js';
import type { ReconcileReport } from '../sync/reconcile.js';

/** File name of the record in the state directory. */
export const LAST_SYNC_FILE = 'last-sync.json';

export interface LastSync {
  at: string;
  durationMs: number;
  /** 'ok', 'failed' (something failed: see the folders), or 'interrupted' (Ctrl-C). */
  result: 'ok' | 'failed' | 'interrupted';
  folders: Array<{
    name: string;
    status: string;
    uploaded: number;
    replaced: number;
    deleted: number;
    moved: number;
    failed: number;
    heldDeletes: number;
  }>;
}

/** Records a finished (not dry) sync; a failure to write it is not the sync's failure, so it is only returned. */
export async function recordLastSync(
  stateDir: string,
  reports: readonly ReconcileReport[],
  startedAt: number,
  interrupted: boolean,
): Promise<Error | undefined> {
  const record: LastSync = {
    at: new Date(startedAt).toISOString(),
    durationMs: Date.now() - startedAt,
    result: interrupted ? 'interrupted' : reports.every((r) => r.status === 'ok') ? 'ok' : 'failed',
    folders: reports.map((r) => ({
      name: r.folder,
      status: r.status,
      uploaded: r.uploaded,
      replaced: r.replaced,
      deleted: r.deleted,
      moved: r.moved,
      failed: r.failed.length,
      heldDeletes: r.heldDeletes,
    })),
  };
  try {
    await writeFileAtomic(path.join(stateDir, LAST_SYNC_FILE), `${JSON.stringify(record, null, 2)}\n`);
    return undefined;
  } catch (err) {
    return err as Error;
  }
}

/** The last recorded sync, or undefined when there is none. */
export async function readLastSync(stateDir: string): Promise<LastSync | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(stateDir, LAST_SYNC_FILE), 'utf8')) as LastSync;
  } catch {
    return undefined;
  }
}

/** One line for people: when, how it ended, what it did. */
export function formatLastSync(s: LastSync): string {
  const sum = (k: 'uploaded' | 'replaced' | 'deleted' | 'failed' | 'heldDeletes') =>
    s.folders.reduce((n, f) => n + f[k], 0);
  const held = sum('heldDeletes') > 0 ? `, ${sum('heldDeletes')} deletes held` : '';
  return `last one-off sync ${s.at}: ${s.result} (${sum('uploaded')} up, ${sum('replaced')} replaced, ${sum('deleted')} del, ${sum('failed')} failed${held}; ${(s.durationMs / 1000).toFixed(1)} s)`;
}
