/** The Messages API content block that sends a synced file to Claude, chosen by its MIME type. */
import { bareMimeType } from '../api/bare-mime.js';

export type ContentBlock =
  | { type: 'document'; source: { type: 'file'; file_id: string } }
  | { type: 'image'; source: { type: 'file'; file_id: string } }
  | { type: 'container_upload'; file_id: string };

/**
 * Document blocks take PDF and plain text only. Other text/* types (markdown, CSV, HTML) go as
 * container_upload: the API refuses a document block for a file stored as text/markdown, and
 * code execution reads any file. A file uploaded as text/plain (.txt, .log, ...) is a document.
 */
const DOCUMENT_TYPES = new Set(['application/pdf', 'text/plain']);
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

/** The block for a file ID with the MIME type it was uploaded as. */
export function contentBlock(fileId: string, mimeType: string): ContentBlock {
  const bare = bareMimeType(mimeType);
  if (DOCUMENT_TYPES.has(bare)) return { type: 'document', source: { type: 'file', file_id: fileId } };
  if (IMAGE_TYPES.has(bare)) return { type: 'image', source: { type: 'file', file_id: fileId } };
  return { type: 'container_upload', file_id: fileId };
}
