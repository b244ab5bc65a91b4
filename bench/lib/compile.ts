/** Compiles a TypeScript bench script to one JavaScript file, so that plain node runs it as it runs the installed CLI. */
import path from 'node:path';
import { build } from 'esbuild';
import { BenchError } from './errors.js';

/**
 * Bundles `script` and what it imports from this repository into `<outDir>/<name>.mjs` (packages
 * stay imports unless `bundlePackages`) and returns that path. A baseline compared with the installed CLI runs the same
 * way: through tsx it would also pay for tsx, and the ratio would flatter ours.
 */
export async function compileScript(
  script: string,
  outDir: string,
  options: { bundlePackages?: boolean } = {},
): Promise<string> {
  const outfile = path.join(outDir, `${path.basename(script, path.extname(script))}.mjs`);
  try {
    await build({
      entryPoints: [script],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20.19',
      // A file outside the repository cannot import packages from its node_modules: such a script
      // (the SDK baselines) gets them bundled in.
      packages: options.bundlePackages === true ? 'bundle' : 'external',
      logLevel: 'silent',
    });
  } catch (err) {
    throw new BenchError(
      `could not compile ${script}: ${(err as Error).message}`,
      { script },
      { cause: err },
    );
  }
  return outfile;
}
