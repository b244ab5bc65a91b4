/**
 * Our hasher as a process, for a fair comparison with `openssl dgst` and `sha256sum`: hashes one
 * file with src/local/hash.ts hashFile and prints {sha256, bytes, workMs} as JSON.
 */
import { hashFile } from '../../src/local/hash.js';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: hash-file.ts <file>\n');
  process.exit(64);
}
const started = performance.now();
const result = await hashFile(file);
process.stdout.write(
  `${JSON.stringify({ sha256: result.sha256, bytes: result.size, workMs: performance.now() - started })}\n`,
);
