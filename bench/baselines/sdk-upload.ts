/**
 * Baseline uploader: the official @anthropic-ai/sdk (GA `client.files`, the contract files-sync
 * speaks by default), no manifest logic beyond a path -> ID map written at the end.
 * `--concurrency 1` is the naive one-file-at-a-time script; a higher value is the same SDK with
 * as many uploads in flight as files-sync uses. Reads ANTHROPIC_API_KEY and
 * ANTHROPIC_BASE_URL (the emulator). Prints {files, bytes, failed, workMs} as JSON.
 */
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { listFiles, mapLimit, parseArgs, requireArg } from './walk.js';

const USAGE = 'sdk-upload.ts --root <dir> --concurrency <n> --out <map.json>';
const started = performance.now();
const args = parseArgs(process.argv.slice(2));
const root = requireArg(args, 'root', USAGE);
const concurrency = Number(requireArg(args, 'concurrency', USAGE));
const out = requireArg(args, 'out', USAGE);

const client = new Anthropic({
  apiKey: process.env.ANTHROPIC_API_KEY,
  baseURL: process.env.ANTHROPIC_BASE_URL,
});
const files = await listFiles(root);
const ids: Record<string, string> = {};
let bytes = 0;
let failed = 0;
await mapLimit(files, concurrency, async (file) => {
  try {
    // The GA endpoint, as files-sync speaks it by default: no beta header, same multipart body.
    const uploaded = await client.files.upload({ file: createReadStream(file) });
    ids[path.relative(root, file)] = uploaded.id;
    bytes += uploaded.size_bytes;
  } catch (err) {
    failed++;
    process.stderr.write(`upload failed: ${file}: ${(err as Error).message}\n`);
  }
});
await fs.writeFile(out, JSON.stringify(ids));
process.stdout.write(
  `${JSON.stringify({ files: files.length, bytes, failed, workMs: performance.now() - started })}\n`,
);
process.exitCode = failed > 0 ? 1 : 0;
