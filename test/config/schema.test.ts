import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { configFileSchema, configJsonSchema, renderConfigJsonSchema } from '../../src/config/schema.js';

const repoFile = (name: string) => fileURLToPath(new URL(`../../${name}`, import.meta.url));

describe('JSON Schema export', () => {
  it('matches the committed sync.config.schema.json (regenerate: npx tsx scripts/gen-schema.ts)', async () => {
    const committed = await readFile(repoFile('sync.config.schema.json'), 'utf8');
    expect(committed).toBe(renderConfigJsonSchema());
  });

  it('rejects unknown keys, requires folders and documents defaults and ranges', () => {
    const schema = configJsonSchema() as {
      additionalProperties: boolean;
      required: string[];
      properties: {
        api: { properties: { concurrency: { default: number; minimum: number; maximum: number } } };
      };
    };
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(['folders']);
    expect(schema.properties.api.properties.concurrency).toMatchObject({
      default: 4,
      minimum: 1,
      maximum: 64,
    });
  });
});

describe('sync.config.example.json', () => {
  it('validates, with two folders showing include and exclude', async () => {
    const { config } = await loadConfig({
      configPath: repoFile('sync.config.example.json'),
      env: { HOME: '/home/example' },
      checkPaths: false,
    });
    expect(config.folders).toHaveLength(2);
    expect(config.folders.some((f) => f.include.length > 0)).toBe(true);
    expect(config.folders.every((f) => f.exclude.length > 0)).toBe(true);
  });

  it('sets every field explicitly, so it doubles as documentation', async () => {
    const example = JSON.parse(await readFile(repoFile('sync.config.example.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const topLevel = Object.keys(configFileSchema.shape);
    expect(Object.keys(example).sort()).toEqual([...topLevel].sort());
  });
});
