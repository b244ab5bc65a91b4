/** The Files API wire shapes (zod) and their conversion to our RemoteFile. */
import { z } from 'zod';
import type { RemoteFile } from '../types.js';
import { isPlainObject } from '../util/plain-object.js';

/** The file object as the API sends it (snake_case); unknown fields are ignored. */
export const WireFileSchema = z.object({
  id: z.string().min(1),
  type: z.literal('file').optional(),
  filename: z.string(),
  mime_type: z.string(),
  size_bytes: z.number().int().nonnegative(),
  created_at: z.string(),
  downloadable: z.boolean().optional(),
  /** GA: RFC 3339, null when the file never expires (the beta contract may omit it). */
  expires_at: z.string().nullable().optional(),
});
export type WireFile = z.infer<typeof WireFileSchema>;

/** One page of GET /v1/files, GA contract: `next_page` is the cursor, null on the last page. */
export const WireGaFilePageSchema = z.object({
  data: z.array(WireFileSchema),
  next_page: z.string().min(1).nullable(),
});
export type WireGaFilePage = z.infer<typeof WireGaFilePageSchema>;

/** One page of GET /v1/files (beta contract: first_id / last_id / has_more). */
export const WireFilePageSchema = z.object({
  data: z.array(WireFileSchema),
  first_id: z.string().nullable().optional(),
  last_id: z.string().nullable().optional(),
  has_more: z.boolean(),
});
export type WireFilePage = z.infer<typeof WireFilePageSchema>;

/** Answer of DELETE /v1/files/{id}. */
export const WireDeletedSchema = z.object({ id: z.string(), type: z.string().optional() });

/**
 * A GA listing page read without the schema when every field is plainly what WireGaFilePageSchema
 * requires (never less strict), else undefined: the caller then parses it with the schema, which
 * accepts or reports it exactly as before. A listing of 100k files went through zod a file at a
 * time, copying each into a third object per file (JSON's, zod's, ours): a tenth of a second of a
 * no-op restart's main thread and its garbage.
 */
export function readGaFilePage(json: unknown): { data: RemoteFile[]; nextPage: string | null } | undefined {
  if (!isPlainObject(json)) return undefined;
  const { data, next_page: nextPage } = json;
  if (!Array.isArray(data) || !(nextPage === null || (typeof nextPage === 'string' && nextPage !== '')))
    return undefined;
  const files: RemoteFile[] = [];
  for (const f of data as unknown[]) {
    if (!isPlainWireFile(f)) return undefined;
    files.push(toRemoteFile(f));
  }
  return { data: files, nextPage };
}

function isPlainWireFile(f: unknown): f is WireFile {
  if (!isPlainObject(f)) return false;
  const size = f['size_bytes'];
  const type = f['type'];
  const downloadable = f['downloadable'];
  const expires = f['expires_at'];
  return (
    typeof f['id'] === 'string' &&
    f['id'] !== '' &&
    (type === undefined || type === 'file') &&
    typeof f['filename'] === 'string' &&
    typeof f['mime_type'] === 'string' &&
    typeof size === 'number' &&
    Number.isSafeInteger(size) &&
    size >= 0 &&
    typeof f['created_at'] === 'string' &&
    (downloadable === undefined || typeof downloadable === 'boolean') &&
    (expires === undefined || expires === null || typeof expires === 'string')
  );
}

/** Maps a wire file object to the shared RemoteFile model. */
export function toRemoteFile(w: WireFile): RemoteFile {
  return {
    id: w.id,
    filename: w.filename,
    mimeType: w.mime_type,
    sizeBytes: w.size_bytes,
    createdAt: w.created_at,
    downloadable: w.downloadable ?? false,
    expiresAt: w.expires_at,
  };
}
