// The bearer token of the HTTP endpoint: read from a file, checked in constant time, never logged.
import { timingSafeEqual, createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { ConfigError } from '../config/errors.js';
import { errorCode } from '../errors.js';

/** Short tokens can be guessed; 16 characters of a random token is ~96 bits. */
const MIN_TOKEN_LENGTH = 16;

/**
 * The first line of `file`. A file that others (not just the group) may read is refused: the
 * token is the only thing between a non-loopback listener and every path and file ID.
 */
export async function readBearerToken(file: string, field = 'http.tokenFile'): Promise<string> {
  const issue = (message: string, fix: string) => new ConfigError([{ path: field, message, fix }]);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw issue(
      `token file cannot be read (${errorCode(err) ?? 'error'}): ${file}`,
      `create it readable by this user, e.g. openssl rand -hex 32 > ${file}; chmod 600 ${file}`,
    );
  }
  if (process.platform !== 'win32') {
    const mode = (await stat(file)).mode & 0o777;
    if ((mode & 0o007) !== 0)
      throw issue(
        `token file ${file} is readable by other users (mode ${mode.toString(8).padStart(4, '0')})`,
        `run chmod 600 ${file}`,
      );
  }
  const token = text.split(/\r?\n/)[0]?.trim() ?? '';
  if (token.length < MIN_TOKEN_LENGTH)
    throw issue(
      `token in ${file} is ${token === '' ? 'empty' : `shorter than ${MIN_TOKEN_LENGTH} characters`}`,
      `write a random token into it, e.g. openssl rand -hex 32 > ${file}`,
    );
  return token;
}

/** True when an Authorization header carries `token` (compared by hash, in constant time). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(m[1]!), digest(token));
}
