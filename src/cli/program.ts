/** The files-sync command line: wires every command into one commander program. */
import { Command } from 'commander';
import { registerSyncCommand } from './sync.js';
import { registerQueryCommands } from './query.js';
import { registerEventsCommand } from './events.js';
import { registerVerifyCommand } from './verify.js';
import { registerInitCommand } from './init.js';
import { registerEmulatorCommand } from './emulator.js';
import { registerRunCommand } from './run.js';
import { registerStatusCommand } from './status.js';
import { registerDemoCommand } from './demo.js';
import { registerReleaseDeletesCommand } from './release-deletes.js';
import { registerStateCommand } from './state.js';
import { verbosityLevel } from './common.js';
import { VERSION } from './version.js';

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
    .version(VERSION)
    .option('-v, --verbose', 'more log output: log level debug (any command, before or after its name)')
    .option('-q, --quiet', 'less log output: warnings and errors only')
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
  // -v/-q belong to the program so that every command has them without declaring them; they
  // reach the command as its --log-level, which loadCliConfig already applies over the config.
  program.hook('preAction', (_program, action) => {
    const level = verbosityLevel({
      ...program.opts(),
      logLevel: action.opts().logLevel as string | undefined,
    });
    if (level !== undefined) action.setOptionValue('logLevel', level);
  });
  registerDemoCommand(program);
  registerInitCommand(program);
  registerSyncCommand(program);
  registerRunCommand(program);
  registerStatusCommand(program);
  registerReleaseDeletesCommand(program);
  registerQueryCommands(program);
  registerEventsCommand(program);
  registerVerifyCommand(program);
  registerEmulatorCommand(program);
  registerStateCommand(program);
  return program;
}
