/** The package version, read once from package.json (the same relative path from src/cli and dist/cli). */
import { createRequire } from 'node:module';

export const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
