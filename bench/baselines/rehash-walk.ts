/**
 * Baseline "re-hash everything" on restart: walk the tree and SHA-256 every file (1 MiB reads,
 * 4 files at a time), as a tool without a stat cache must. Prints {files, bytes, workMs} as JSON.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { listFiles, mapLimit, parseArgs, requireArg } from './walk.js';

const started = performance.now();
const root = requireArg(parseArgs(process.argv.slice(2)), 'root', 'rehash-walk.ts --root <dir>');
const files = await listFiles(root);
let bytes = 0;
await mapLimit(files, 4, async (f) => {
  const hash = createHash('sha256');
  await pipeline(createReadStream(f, { highWaterMark: 1 << 20 }), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      bytes += chunk.length;
      hash.update(chunk);
    }
  });
  hash.digest('hex');
});
process.stdout.write(
  `${JSON.stringify({ files: files.length, bytes, workMs: performance.now() - started })}\n`,
);
