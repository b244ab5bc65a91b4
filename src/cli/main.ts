#!/usr/bin/env node
/**
 * Entry point when the CLI runs from source or dist (`tsx src/cli/main.ts`, the tests): what
 * bin/files-sync.cjs does with the bundled fast path. `id` first tries the fast path
 * (id-direct.ts); anything it declines runs the full CLI (cli.ts), loaded only then.
 */
import { tryDirectId } from './id-direct.js';

const runFullCli = async (): Promise<void> => (await import('./cli.js')).main();

const direct =
  process.argv[2] === 'id' ? await tryDirectId(process.argv.slice(2)).catch(() => undefined) : undefined;
if (direct !== undefined) process.exitCode = direct;
else await runFullCli();
