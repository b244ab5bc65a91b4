/**
 * Baseline "floor" of a no-op restart: walk the tree and lstat every file, 16 at a time (what any
 * change detector must at least do), and nothing else. Prints {files, bytes, workMs} as JSON.
 */
import { promises as fs } from 'node:fs';
import { listFiles, mapLimit, parseArgs, requireArg } from './walk.js';

const started = performance.now();
const root = requireArg(parseArgs(process.argv.slice(2)), 'root', 'stat-walk.ts --root <dir>');
const files = await listFiles(root);
let bytes = 0;
await mapLimit(files, 16, async (f) => {
  bytes += (await fs.lstat(f)).size;
});
process.stdout.write(
  `${JSON.stringify({ files: files.length, bytes, workMs: performance.now() - started })}\n`,
);
