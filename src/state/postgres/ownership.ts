// Which remote files other folders in the database claim, queried live: another host may have recorded one a moment ago.
import type pg from 'pg';
import { uploadKey } from '../../api/upload-tracker.js';
import type { ForeignClaims } from '../../sync/foreign-claims.js';
import { inTransaction } from './connection.js';

/**
 * The claims of every folder in the database but `folder`. Not narrowed to the folder's
 * workspace: a folder recorded with the key's default workspace (null) cannot be told apart from
 * one naming it, and an ID of another workspace never shows up in this one's listing anyway; an
 * upload key of another workspace only makes a recovery wait until that upload is settled.
 */
export function pgForeignClaims(db: pg.Pool, folder: string): ForeignClaims {
  return {
    async claimed(ids) {
      if (ids.length === 0) return new Set();
      const { rows } = await db.query<{ file_id: string }>(
        `SELECT file_id FROM files_sync.entries WHERE folder <> $1 AND file_id = ANY($2::text[])
         UNION SELECT file_id FROM files_sync.pending_deletes WHERE folder <> $1 AND file_id = ANY($2::text[])
         UNION SELECT file_id FROM files_sync.suspects WHERE folder <> $1 AND file_id = ANY($2::text[])`,
        [folder, [...new Set(ids)]],
      );
      return new Set(rows.map((r) => r.file_id));
    },
    async uploading(remoteName, sizeBytes) {
      const { rows } = await db.query<{ busy: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM files_sync.pending_uploads WHERE folder <> $1
             AND record->>'remoteName' = $2 AND (record->>'size')::float8 = $3)
           OR EXISTS (SELECT 1 FROM files_sync.unsettled WHERE folder <> $1
             AND record->>'remoteName' = $2 AND (record->>'size')::float8 = $3) AS busy`,
        [folder, remoteName, sizeBytes],
      );
      return rows[0]?.busy === true;
    },
    async snapshot() {
      // One transaction: the IDs and the intents are seen as of one moment (an upload's entry
      // and the removal of its intent commit together, so a file is always in one or the other).
      return inTransaction(db, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', async (client) => {
        const ids = await client.query<{ file_id: string }>(
          `SELECT file_id FROM files_sync.entries WHERE folder <> $1
           UNION SELECT file_id FROM files_sync.pending_deletes WHERE folder <> $1
           UNION SELECT file_id FROM files_sync.suspects WHERE folder <> $1`,
          [folder],
        );
        const uploads = await client.query<{ name: string; size: number }>(
          `SELECT record->>'remoteName' AS name, (record->>'size')::float8 AS size
             FROM files_sync.pending_uploads WHERE folder <> $1
           UNION SELECT record->>'remoteName', (record->>'size')::float8 FROM files_sync.unsettled WHERE folder <> $1`,
          [folder],
        );
        return {
          ids: new Set(ids.rows.map((r) => r.file_id)),
          uploadKeys: new Set(uploads.rows.map((r) => uploadKey(r.name, r.size))),
        };
      });
    },
  };
}
