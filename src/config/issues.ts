/** Turns zod issues into config issues that name the field, the value, its source and the fix. */
import type { z } from 'zod';
import type { ConfigIssue } from './errors.js';
import { FOLDER_NAME_PATTERN } from './schema.js';

import { echoString, looksSecret } from './echo.js';
import { closestMatch } from './suggest.js';

/** Where a value that overrides the file came from (an env var or a CLI flag) and its raw text. */
export interface ValueSource {
  /** "FILES_SYNC_CONCURRENCY" or "--concurrency". */
  label: string;
  raw: string;
}

/** Overridden values keyed by their dotted config path ("api.concurrency"). */
export type ValueSources = ReadonlyMap<string, ValueSource>;

type Segment = PropertyKey;

/** "folders[1].path" from ["folders", 1, "path"]; "(root)" for the empty path. */
export function formatConfigPath(path: readonly Segment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else {
      const key = String(segment);
      out += /^[A-Za-z_$][\w$]*$/.test(key) ? (out ? `.${key}` : key) : `[${JSON.stringify(key)}]`;
    }
  }
  return out || '(root)';
}

/** Describes a value by kind (and by value only when that is safe and short). */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return `the string ${echoString(value)}`;
  if (typeof value === 'number') return Number.isNaN(value) ? 'not a number' : String(value);
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

/** Reads the value at a zod issue path inside the raw input. */
export function valueAt(input: unknown, path: readonly Segment[]): unknown {
  let current: unknown = input;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

interface SchemaDef {
  type: string;
  innerType?: z.ZodType;
  element?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  defaultValue?: unknown;
  entries?: Record<string, string>;
}

function defOf(schema: z.ZodType): SchemaDef {
  return schema._zod.def;
}

/** Unwraps default/optional/nullable wrappers; returns the schema node and its default, if any. */
function unwrap(schema: z.ZodType): { node: z.ZodType; defaultValue?: unknown } {
  let node = schema;
  let defaultValue: unknown;
  for (;;) {
    const def = defOf(node);
    if ((def.type === 'default' || def.type === 'prefault') && def.innerType) {
      if (defaultValue === undefined) defaultValue = def.defaultValue;
      node = def.innerType;
    } else if (
      (def.type === 'optional' || def.type === 'nullable' || def.type === 'readonly') &&
      def.innerType
    ) {
      node = def.innerType;
    } else if (def.type === 'pipe' && def.in) {
      node = def.in;
    } else {
      return defaultValue === undefined ? { node } : { node, defaultValue };
    }
  }
}

/** The schema node describing the value at `path`, if the path leads anywhere. */
function schemaAt(
  root: z.ZodType,
  path: readonly Segment[],
): { node: z.ZodType; defaultValue?: unknown } | undefined {
  let current = unwrap(root);
  for (const segment of path) {
    const def = defOf(current.node);
    let next: z.ZodType | undefined;
    if (def.type === 'object' && typeof segment === 'string') next = def.shape?.[segment];
    else if (def.type === 'array' && typeof segment === 'number') next = def.element;
    if (!next) return undefined;
    current = unwrap(next);
  }
  return current;
}

function numberRange(node: z.ZodType | undefined): {
  min: number | null;
  max: number | null;
  integer: boolean;
} {
  const candidate = node as unknown as
    { minValue?: number | null; maxValue?: number | null; isInt?: boolean } | undefined;
  const min = candidate?.minValue ?? null;
  const max = candidate?.maxValue ?? null;
  return {
    min: min !== null && Number.isFinite(min) ? min : null,
    max: max !== null && Number.isFinite(max) ? max : null,
    integer: candidate?.isInt === true,
  };
}

function rangeText(range: { min: number | null; max: number | null }): string {
  if (range.min !== null && range.max !== null) return `between ${range.min} and ${range.max}`;
  if (range.min !== null) return `at least ${range.min}`;
  if (range.max !== null) return `at most ${range.max}`;
  return 'in range';
}

function exampleFor(expected: string, defaultValue: unknown): string {
  if (expected === 'boolean') return 'true or false (no quotes)';
  if (expected === 'string') return 'a string in double quotes';
  if (defaultValue !== undefined && (typeof defaultValue !== 'object' || defaultValue === null)) {
    return JSON.stringify(defaultValue);
  }
  switch (expected) {
    case 'number':
    case 'int':
      return '1000';
    case 'array':
      return '[ ... ]';
    case 'object':
      return '{ ... }';
    default:
      return 'a valid value';
  }
}

const TYPE_NAMES: Record<string, string> = {
  number: 'a number',
  int: 'a whole number',
  string: 'a string',
  boolean: 'true or false',
  array: 'a list ([ ... ])',
  object: 'an object ({ ... })',
};

/** Turns a folder name someone wrote into one that matches FOLDER_NAME_PATTERN. */
export function suggestFolderName(name: string): string {
  if (looksSecret(name)) return 'docs';
  const cleaned = name
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 64)
    .replace(/-+$/, '');
  return FOLDER_NAME_PATTERN.test(cleaned) ? cleaned : 'docs';
}

function requiredFix(path: readonly Segment[]): string {
  const key = path[path.length - 1];
  if (path.length === 1 && key === 'folders') return 'add "folders": [{ "name": "docs", "path": "./docs" }]';
  if (path[0] === 'folders' && key === 'name') return 'add "name": a short unique name such as "docs"';
  if (path[0] === 'folders' && key === 'path') return 'add "path": the folder to mirror, e.g. "./docs"';
  return `add "${String(key)}"`;
}

interface IssueContext {
  schema: z.ZodType;
  input: unknown;
  sources: ValueSources;
}

function describeOne(issue: z.core.$ZodIssue, ctx: IssueContext): Omit<ConfigIssue, 'path'> {
  const path = issue.path;
  const value = valueAt(ctx.input, path);
  const located = schemaAt(ctx.schema, path);
  switch (issue.code) {
    case 'invalid_type': {
      if (path.length === 0) {
        return {
          message: `the configuration must be a JSON object, got ${describeValue(value)}`,
          fix: 'wrap the settings in { ... }',
        };
      }
      if (value === undefined) return { message: 'is required', fix: requiredFix(path) };
      const expected = issue.expected;
      const wanted = TYPE_NAMES[expected] ?? expected;
      if (expected === 'int' && typeof value === 'number') {
        return { message: `must be a whole number, got ${value}`, fix: `use ${Math.round(value)}` };
      }
      if (
        (expected === 'number' || expected === 'int') &&
        typeof value === 'string' &&
        value.trim() !== '' &&
        !Number.isNaN(Number(value))
      ) {
        return { message: `must be a number, got a string`, fix: `remove the quotes: ${Number(value)}` };
      }
      if (expected === 'boolean' && (value === 'true' || value === 'false')) {
        return { message: 'must be true or false, got a string', fix: `remove the quotes: ${value}` };
      }
      return {
        message: `must be ${wanted}, got ${describeValue(value)}`,
        fix: `use ${exampleFor(expected, located?.defaultValue)}`,
      };
    }
    case 'too_small':
    case 'too_big': {
      if (issue.origin === 'array') {
        if (path.length === 1 && path[0] === 'folders') {
          return {
            message: 'needs at least one folder',
            fix: 'add one: { "name": "docs", "path": "./docs" }',
          };
        }
        return {
          message: `needs ${issue.code === 'too_small' ? 'at least' : 'at most'} ${issue.code === 'too_small' ? issue.minimum : issue.maximum} items`,
          fix: 'adjust the list',
        };
      }
      if (issue.origin === 'string')
        return { message: 'must not be empty', fix: 'give a value or remove the key to use the default' };
      const range = numberRange(located?.node);
      return {
        message: `must be ${range.integer ? 'a whole number ' : ''}${rangeText(range)}, got ${describeValue(value)}`,
        fix:
          range.min !== null && range.max !== null
            ? `use a value from ${range.min} to ${range.max}`
            : `use a value ${rangeText(range)}`,
      };
    }
    case 'invalid_format': {
      if (issue.format === 'url') {
        return {
          message: `must be an http:// or https:// URL, got ${describeValue(value)}`,
          fix: 'use e.g. "https://api.anthropic.com"',
        };
      }
      if (path[0] === 'folders' && path[path.length - 1] === 'name' && typeof value === 'string') {
        return {
          message: `must be 1-64 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit; got ${echoString(value)}`,
          fix: `rename it, e.g. "${suggestFolderName(value)}"`,
        };
      }
      return {
        message: `has the wrong format (${issue.format}), got ${describeValue(value)}`,
        fix: 'see sync.config.schema.json for the expected format',
      };
    }
    case 'invalid_value': {
      const allowed = issue.values.map((v) => String(v));
      const guess =
        allowed.length === 1
          ? allowed[0]
          : typeof value === 'string'
            ? closestMatch(value, allowed)
            : undefined;
      return {
        message: `must be one of ${allowed.join(', ')}; got ${describeValue(value)}`,
        fix: guess ? `use "${guess}"` : `use one of ${allowed.map((v) => `"${v}"`).join(', ')}`,
      };
    }
    case 'custom': {
      const fix = typeof issue.params?.fix === 'string' ? issue.params.fix : 'see sync.config.schema.json';
      return { message: issue.message, fix };
    }
    default:
      return { message: issue.message, fix: 'see sync.config.schema.json' };
  }
}

function unknownKeyIssues(issue: z.core.$ZodIssueUnrecognizedKeys, ctx: IssueContext): ConfigIssue[] {
  const located = schemaAt(ctx.schema, issue.path);
  const shape = located ? defOf(located.node).shape : undefined;
  const known = Object.keys(shape ?? {}).filter((k) => k !== '$schema');
  return issue.keys.map((key) => {
    const guess = closestMatch(key, known);
    return {
      path: formatConfigPath([...issue.path, key]),
      message: `unknown key ${echoString(key)}`,
      fix: guess ? `did you mean "${guess}"? rename it` : `remove it (known keys here: ${known.join(', ')})`,
    };
  });
}

/** Maps zod issues to human issues; values set through env vars or flags are reported under their name. */
export function describeIssues(
  issues: readonly z.core.$ZodIssue[],
  schema: z.ZodType,
  input: unknown,
  sources: ValueSources = new Map(),
): ConfigIssue[] {
  const ctx: IssueContext = { schema, input, sources };
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      out.push(...unknownKeyIssues(issue, ctx));
      continue;
    }
    const dotted = issue.path.map(String).join('.');
    const source = sources.get(dotted);
    if (source) {
      const rawValue =
        source.raw.trim() !== '' && !Number.isNaN(Number(source.raw)) ? Number(source.raw) : source.raw;
      const described = describeOne(issue, { ...ctx, input: setAt(ctx.input, issue.path, rawValue) });
      out.push({
        path: source.label,
        message: `${described.message} (overrides ${dotted})`,
        fix: `${described.fix}, or unset ${source.label}`,
      });
      continue;
    }
    out.push({ path: formatConfigPath(issue.path), ...describeOne(issue, ctx) });
  }
  return out;
}

// Reports the raw env/flag text rather than the coerced value (NaN says less than "abc").
function setAt(input: unknown, path: readonly Segment[], raw: unknown): unknown {
  if (path.length === 0) return raw;
  const [head, ...rest] = path;
  const container =
    input !== null && typeof input === 'object' ? (input as Record<PropertyKey, unknown>) : {};
  return { ...container, [head as PropertyKey]: setAt(container[head as PropertyKey], rest, raw) };
}
