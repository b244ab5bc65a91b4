/**
 * Strict parsing of the API's query strings and paths: every mistake is a 400 that names the
 * parameter and the fix, never a silently mangled value (URLSearchParams turns a bad escape into
 * U+FFFD and keeps going; a lookup for that name would then answer about a different file).
 */
import type { IncomingMessage } from 'node:http';
import { FilesSyncError } from '../errors.js';

/** A request the API refuses; `status` is the HTTP status to answer with. */
export class ApiRequestError extends FilesSyncError {
  constructor(
    message: string,
    readonly status: number,
    readonly fix?: string,
    context: Record<string, unknown> = {},
  ) {
    super(message, context);
  }
}

/** The raw query string of a request, exactly as sent (new URL() would re-encode parts of it). */
export function rawQuery(req: IncomingMessage): string {
  const u = req.url ?? '';
  const q = u.indexOf('?');
  return q < 0 ? '' : u.slice(q + 1);
}

const MAX_QUERY_BYTES = 8192;

/** Parses `a=1&b=2` into a map; only `allowed` names, each at most once, every escape valid UTF-8. */
export function parseQuery(raw: string, allowed: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  if (raw.length > MAX_QUERY_BYTES)
    throw new ApiRequestError(`query string longer than ${MAX_QUERY_BYTES} bytes`, 414);
  if (raw === '') return out;
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decode(eq < 0 ? part : part.slice(0, eq), 'a parameter name');
    const value = decode(eq < 0 ? '' : part.slice(eq + 1), `parameter ${JSON.stringify(name)}`);
    if (!allowed.includes(name))
      throw new ApiRequestError(
        `unknown query parameter ${JSON.stringify(name.slice(0, 64))}`,
        400,
        `use only ${allowed.join(', ')}`,
      );
    if (out.has(name))
      throw new ApiRequestError(`query parameter ${JSON.stringify(name)} given twice`, 400, 'give it once');
    out.set(name, value);
  }
  return out;
}

function decode(text: string, what: string): string {
  try {
    // decodeURIComponent throws on a malformed escape and on bytes that are not UTF-8.
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw new ApiRequestError(
      `${what} has a malformed percent-escape or bytes that are not UTF-8`,
      400,
      'percent-encode the UTF-8 bytes of the value (encodeURIComponent)',
    );
  }
}

/**
 * Checks a folder-relative path as the manifest keys it: POSIX separators, no leading slash, no
 * empty, `.` or `..` segment, no NUL or other C0 control character; returns it unchanged.
 */
export function checkRelativePath(rel: string, param = 'path'): string {
  const bad = (why: string, fix: string) => new ApiRequestError(`${param}: ${why}`, 400, fix, { param });
  if (rel === '') throw bad('is empty', 'give a path relative to the folder, e.g. contracts/2026/acme.pdf');
  if (rel.includes('\0')) throw bad('contains a NUL character', 'remove it');
  if (rel.length > 4096) throw bad('is longer than 4096 characters', 'give a real path');
  const segments = rel.split('/');
  if (segments.some((s) => s === '..'))
    throw bad('contains a ".." segment', 'give the path inside the folder without ".."');
  if (segments.some((s) => s === '.' || s === ''))
    throw bad(
      'has an empty or "." segment',
      'write it as the manifest does, e.g. a/b.txt (no //, ./ or trailing /)',
    );
  return rel;
}

/** Parses `wait` seconds: a number from 0 to `max`; undefined when absent. */
export function parseWaitSeconds(value: string | undefined, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n > max)
    throw new ApiRequestError(
      `wait: expected seconds from 0 to ${max}, got ${JSON.stringify(value.slice(0, 32))}`,
      400,
      `use e.g. wait=30 (at most ${max})`,
    );
  return n;
}
