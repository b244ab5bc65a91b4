/** The files-sync command line: wires every command into one commander program. */
import { Command } from 'commander';
import { verbosityLevel } from './common.js';
import { VERSION } from './version.js';

type Register = (program: Command) => void;

/**
 * Every command, in the order --help lists them, with the module that registers it. Only the
 * named command's module is loaded: each pulls in its own part of the code (the emulator, the
 * daemon, PostgreSQL), and loading all of them cost every command about 0.3 s of start-up.
 */
const COMMANDS: ReadonlyArray<{ names: readonly string[]; load: () => Promise<Register> }> = [
  { names: ['demo'], load: async () => (await import('./demo.js')).registerDemoCommand },
  { names: ['init'], load: async () => (await import('./init.js')).registerInitCommand },
  { names: ['sync'], load: async () => (await import('./sync.js')).registerSyncCommand },
  { names: ['run'], load: async () => (await import('./run.js')).registerRunCommand },
  { names: ['status'], load: async () => (await import('./status.js')).registerStatusCommand },
  {
    names: ['release-deletes'],
    load: async () => (await import('./release-deletes.js')).registerReleaseDeletesCommand,
  },
  { names: ['ls', 'id'], load: async () => (await import('./query.js')).registerQueryCommands },
  { names: ['events'], load: async () => (await import('./events.js')).registerEventsCommand },
  { names: ['verify'], load: async () => (await import('./verify.js')).registerVerifyCommand },
  { names: ['emulator'], load: async () => (await import('./emulator.js')).registerEmulatorCommand },
  { names: ['state'], load: async () => (await import('./state.js')).registerStateCommand },
];

/**
 * The commands `argv` needs: the one it names (the first word that is not an option: the
 * program's own options take no value), or all of them for help, a typo's suggestions or none.
 */
function commandsFor(argv: readonly string[] | undefined): typeof COMMANDS {
  const name = argv?.slice(2).find((a) => !a.startsWith('-'));
  const named = COMMANDS.find((c) => name !== undefined && c.names.includes(name));
  return named ? [named] : COMMANDS;
}

/**
 * Builds the program for `argv` (exported so tests can drive it in-process); without `argv`,
 * with every command.
 */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const registers = await Promise.all(commandsFor(argv).map((c) => c.load()));
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
  for (const register of registers) register(program);
  return program;
}
