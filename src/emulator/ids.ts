/** File and request IDs shaped like the real API's. */
import { randomBytes } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
// 62 * 4 = 248: bytes at or above it are rejected so every character is equally likely.
const REJECT_FROM = 248;

// Random bytes are drawn in blocks: one randomBytes call per ID dominated seeding 100k files.
let pool = Buffer.alloc(0);
let poolPos = 0;

function nextRandomByte(): number {
  if (poolPos >= pool.length) {
    pool = randomBytes(4096);
    poolPos = 0;
  }
  return pool[poolPos++] as number;
}

/** Random base62 string of `length` characters (crypto-strength, unbiased). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    const b = nextRandomByte();
    if (b < REJECT_FROM) out += BASE62[b % 62];
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
