/** A MIME type without its parameters; apart from mime.ts so that readers need not load mime-types' database. */

export const DEFAULT_MIME_TYPE = 'application/octet-stream';

/** Drops parameters such as `; charset=utf-8` and normalises case. */
export function bareMimeType(value: string): string {
  const bare = value.split(';')[0]?.trim().toLowerCase() ?? '';
  return bare === '' ? DEFAULT_MIME_TYPE : bare;
}
