import { randomBytes } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
// 62 * 4 = 248: bytes at or above it are rejected so every character is equally likely.
const REJECT_FROM = 248;

/** Random base62 string of `length` characters (crypto-strength, unbiased). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    const bytes = randomBytes(length * 2);
    for (const b of bytes) {
      if (b >= REJECT_FROM) continue;
      out += BASE62[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** A new file ID shaped like the API's: `file_` + 24 base62 characters. */
export function newFileId(): string {
  return `file_${randomBase62(24)}`;
}

/** A new request ID for the `request-id` header and error bodies. */
export function newRequestId(): string {
  return `req_${randomBase62(24)}`;
}
