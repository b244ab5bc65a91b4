/** The files-sync command line: wires every command into one commander program. */
import { Command } from 'commander';
import { createRequire } from 'node:module';
import { registerSyncCommand } from './sync.js';
import { registerQueryCommands } from './query.js';
import { registerVerifyCommand } from './verify.js';
import { registerInitCommand } from './init.js';
import { registerEmulatorCommand } from './emulator.js';
import { registerRunCommand } from './run.js';
import { registerStatusCommand } from './status.js';
import { registerDemoCommand } from './demo.js';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

/** Builds the program (exported so tests can drive it in-process). */
export function buildProgram(): Command {
  const program = new Command();
  // exitOverride before subcommands so they inherit it (commander 14).
  program.exitOverride();
  program
    .name('files-sync')
    .description(
      'Mirror local folders into the Anthropic Files API and answer "what is the file ID of this path?"',
    )
    .version(pkg.version)
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Quick start:
  $ files-sync demo                         # try it against a built-in local emulator, no key needed
  $ files-sync init --path ~/Documents      # write ./sync.config.json
  $ export ANTHROPIC_API_KEY=sk-ant-...
  $ files-sync sync                         # one full pass
  $ files-sync run                          # keep watching
  $ files-sync id ~/Documents/report.pdf    # -> file_011C...`,
    );
  registerDemoCommand(program);
  registerInitCommand(program);
  registerSyncCommand(program);
  registerRunCommand(program);
  registerStatusCommand(program);
  registerQueryCommands(program);
  registerVerifyCommand(program);
  registerEmulatorCommand(program);
  return program;
}
