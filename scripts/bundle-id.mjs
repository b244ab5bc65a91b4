// Bundles the `files-sync id` fast path (src/cli/id-direct.ts and what it imports) into one CommonJS file, dist/cli/id-fast.cjs, for bin/files-sync.cjs.
// One file loaded by require(): resolving, reading and linking a dozen ES modules cost more than
// the lookup itself (see src/cli/id-direct.ts). Run by `npm run build` after tsc.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Writes the bundle to `outfile` (the tests bundle into a temporary folder with the same options). */
export async function bundleIdFastPath(outfile = path.join(ROOT, 'dist', 'cli', 'id-fast.cjs')) {
  await build({
    entryPoints: [path.join(ROOT, 'src', 'cli', 'id-direct.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20.19',
    // Only node: built-ins: a third-party import here would mean the fast path grew a dependency.
    packages: 'external',
    logLevel: 'warning',
    legalComments: 'none',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await bundleIdFastPath();
