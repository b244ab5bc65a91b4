#!/usr/bin/env node
/** Entry point of the `files-sync` binary. */

// Only node: built-ins are imported statically here. Everything else (commander, the config
// schema, pino, undici) is loaded once we know it is needed: `id` must answer in a few tens of ms
// (from the daemon or from one manifest shard), and loading the whole program costs several times
// that (see id-direct.ts).

// `files-sync ls | head` closes the pipe early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

/** Runs the CLI with process.argv. */
export async function main(argv: string[] = process.argv): Promise<void> {
  const [{ CommanderError }, { buildProgram }, { CliExit }] = await Promise.all([
    import('commander'),
    import('./program.js'),
    import('./common.js'),
  ]);
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; usage mistakes exit 64 (EX_USAGE).
      process.exitCode = err.exitCode === 0 ? 0 : 64;
      return;
    }
    // Raised before a command body runs (the -v/-q check in a hook): a message, not a stack trace.
    if (err instanceof CliExit) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    throw err;
  }
}

// `id` asks a running daemon, or reads the manifest, without loading the config schema or the other commands (see id-direct.ts).
const direct =
  process.argv[2] === 'id'
    ? await (await import('./id-direct.js')).tryDirectId(process.argv.slice(2))
    : undefined;
if (direct !== undefined) process.exitCode = direct;
else await main();
