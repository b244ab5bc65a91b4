#!/usr/bin/env node
/** Entry point of the `files-sync` binary. */
import { CommanderError } from 'commander';
import { buildProgram } from './program.js';

/** Runs the CLI with process.argv. */
export async function main(argv: string[] = process.argv): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; usage mistakes exit 64 (EX_USAGE).
      process.exitCode = err.exitCode === 0 ? 0 : 64;
      return;
    }
    throw err;
  }
}

await main();
