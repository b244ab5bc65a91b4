/** The MIME type an upload declares, from the file name. */
import mime from 'mime-types';
import { bareMimeType, DEFAULT_MIME_TYPE } from './bare-mime.js';

// Still importable from here: the upload path knows them as part of choosing the type.
export { bareMimeType, DEFAULT_MIME_TYPE };

/**
 * The bare MIME type to send as the upload part's Content-Type (the API stores it as `mime_type`
 * without parameters); unknown extensions fall back to application/octet-stream.
 */
export function mimeTypeFor(filename: string): string {
  const found = mime.lookup(filename);
  if (found === false) return DEFAULT_MIME_TYPE;
  return bareMimeType(found);
}
