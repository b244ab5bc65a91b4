/** The full CLI (commander and every command), run by the entry points once the `id` fast path has declined. */

/** Runs the CLI with process.argv. */
export async function main(argv: string[] = process.argv): Promise<void> {
  // `files-sync ls | head` closes the pipe early: that is not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  const [{ CommanderError }, { buildProgram }, { CliExit }] = await Promise.all([
    import('commander'),
    import('./program.js'),
    import('./common.js'),
  ]);
  const program = await buildProgram(argv);
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
