/** Regenerates sync.config.schema.json from the zod schema: `npx tsx scripts/gen-schema.ts`. */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { renderConfigJsonSchema } from '../src/config/schema.js';

const target = fileURLToPath(new URL('../sync.config.schema.json', import.meta.url));
await writeFile(target, renderConfigJsonSchema());
console.log(`wrote ${target}`);
