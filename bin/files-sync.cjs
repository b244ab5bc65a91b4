#!/usr/bin/env node
// Launcher of the compiled CLI (dist/, built by `npm run build`). CommonJS on purpose: `files-sync id`
// answers from one bundled file (dist/cli/id-fast.cjs, see src/cli/id-direct.ts) without starting the
// ES module loader, which alone costs more than the answer; whatever the fast path leaves (another
// command, an unusual config, no daemon and no manifest) runs the full CLI.
'use strict';

const runFullCli = () => import('../dist/cli/cli.js').then((cli) => cli.main());

if (process.argv[2] === 'id') {
  require('../dist/cli/id-fast.cjs')
    .tryDirectId(process.argv.slice(2))
    .then(
      (code) => (code === undefined ? runFullCli() : void (process.exitCode = code)),
      () => runFullCli(),
    );
} else {
  void runFullCli();
}
