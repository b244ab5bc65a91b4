/** Deterministic generated content for emulator files added without bytes. */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

const CHUNK = 64 * 1024;
const ZERO_CHUNK = Buffer.alloc(CHUNK);
const shaBySize = new Map<number, string>();

/**
 * Stand-in content for downloadable files that have no stored bytes: `size` zero bytes. Zeros
 * make the hash depend on the size only, so it can be memoised across many seeded files.
 */
export function generatedContent(size: number): Readable {
  let left = size;
  return new Readable({
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, CHUNK);
      left -= n;
      this.push(n === CHUNK ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, n));
    },
  });
}

/** SHA-256 (hex) of generatedContent(size); computed once per size. */
export function generatedContentSha256(size: number): string {
  const known = shaBySize.get(size);
  if (known !== undefined) return known;
  const hash = createHash('sha256');
  for (let left = size; left > 0; left -= CHUNK)
    hash.update(left >= CHUNK ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, left));
  const hex = hash.digest('hex');
  shaBySize.set(size, hex);
  return hex;
}
