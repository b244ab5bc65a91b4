/**
 * Baseline for change latency: how long one small upload takes with the official SDK (GA
 * `client.files`, as files-sync speaks by default) when nothing else happens (one request at a time). Prints {latenciesMs: number[]} as JSON.
 */
import { createReadStream } from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';
import { listFiles, parseArgs, requireArg } from './walk.js';

const root = requireArg(parseArgs(process.argv.slice(2)), 'root', 'sdk-latency.ts --root <dir>');
const client = new Anthropic({
  apiKey: process.env.ANTHROPIC_API_KEY,
  baseURL: process.env.ANTHROPIC_BASE_URL,
});
const latenciesMs: number[] = [];
for (const file of (await listFiles(root)).sort()) {
  const started = performance.now();
  await client.files.upload({ file: createReadStream(file) });
  latenciesMs.push(performance.now() - started);
}
process.stdout.write(`${JSON.stringify({ latenciesMs })}\n`);
