// The one test of "a JSON object" that parsers of config, state and API answers share.

/** True for an object that is neither null nor an array: what JSON.parse makes of `{...}`. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
