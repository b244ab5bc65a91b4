/** The Files API wire shapes (zod) and their conversion to our RemoteFile. */
import { z } from 'zod';
import type { RemoteFile } from '../types.js';

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
