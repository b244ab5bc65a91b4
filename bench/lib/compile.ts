/** Compiles a TypeScript bench script to one JavaScript file, so that plain node runs it as it runs the installed CLI. */
import path from 'node:path';
import { build } from 'esbuild';
import { BenchError } from './errors.js';

/**
 * Bundles `script` and what it imports from this repository into `<outDir>/<name>.mjs` (packages
 * stay imports) and returns that path. A baseline compared with the installed CLI runs the same
 * way: through tsx it would also pay for tsx, and the ratio would flatter ours.
 */
export async function compileScript(script: string, outDir: string): Promise<string> {
  const outfile = path.join(outDir, `${path.basename(script, path.extname(script))}.mjs`);
  try {
    await build({
      entryPoints: [script],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20.19',
      packages: 'external',
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
