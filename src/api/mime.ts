/** The MIME type an upload declares, from the file name. */
import mime from 'mime-types';

export const DEFAULT_MIME_TYPE = 'application/octet-stream';

/**
 * The bare MIME type to send as the upload part's Content-Type (the API stores it as `mime_type`
 * without parameters); unknown extensions fall back to application/octet-stream.
 */
export function mimeTypeFor(filename: string): string {
  const found = mime.lookup(filename);
  if (found === false) return DEFAULT_MIME_TYPE;
  return bareMimeType(found);
}

/** Drops parameters such as `; charset=utf-8` and normalises case. */
export function bareMimeType(value: string): string {
  const bare = value.split(';')[0]?.trim().toLowerCase() ?? '';
  return bare === '' ? DEFAULT_MIME_TYPE : bare;
}
