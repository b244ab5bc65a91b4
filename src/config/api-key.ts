// Where the API key comes from ($ANTHROPIC_API_KEY or api.keyFile), with ssh-style care about the file's mode.
import { readFile, stat } from 'node:fs/promises';
import { ConfigError } from './errors.js';
import type { Config } from './schema.js';

/**
 * The API key: $ANTHROPIC_API_KEY, else the first line of `api.keyFile` (e.g. a systemd
 * credential). Errors name where it was looked for, never the key.
 */
export async function resolveApiKey(
  config: Pick<Config, 'api'>,
  env: NodeJS.ProcessEnv = process.env,
  warn: (message: string) => void = warnOnStderr,
): Promise<string> {
  const fromEnv = env.ANTHROPIC_API_KEY?.trim();
  if (fromEnv) return fromEnv;
  const keyFile = config.api.keyFile;
  if (keyFile === undefined) {
    throw new ConfigError([
      {
        path: 'ANTHROPIC_API_KEY',
        message: 'no API key: ANTHROPIC_API_KEY is not set and api.keyFile is not configured',
        fix: 'put the key in ANTHROPIC_API_KEY (or set api.keyFile to a file holding it)',
      },
    ]);
  }
  let text: string;
  try {
    text = await readFile(keyFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(
      [
        {
          path: 'api.keyFile',
          message: `key file cannot be read (${code}): ${keyFile}`,
          fix: `create ${keyFile} readable by this user, or set ANTHROPIC_API_KEY`,
        },
      ],
      {},
      { cause: err },
    );
  }
  const loose = await looseKeyFileMode(keyFile);
  if (loose !== undefined) warn(loose);
  const key = text.split(/\r?\n/)[0]?.trim() ?? '';
  if (key === '') {
    throw new ConfigError([
      {
        path: 'api.keyFile',
        message: `key file is empty: ${keyFile}`,
        fix: `write the key into ${keyFile}, or set ANTHROPIC_API_KEY`,
      },
    ]);
  }
  return key;
}

/**
 * Like ssh with a private key, a key file that group or others may read is used (refusing would
 * turn a permissions slip into an outage) but never silently. Windows has no such mode bits.
 */
async function looseKeyFileMode(keyFile: string): Promise<string | undefined> {
  if (process.platform === 'win32') return undefined;
  const mode = await stat(keyFile).then(
    (s) => s.mode & 0o777,
    () => undefined,
  );
  if (mode === undefined || (mode & 0o077) === 0) return undefined;
  return (
    `key file ${keyFile} is open to ${(mode & 0o007) !== 0 ? 'other users' : 'its group'} ` +
    `(mode ${mode.toString(8).padStart(4, '0')}): anyone who can read it can use the API key; run chmod 600 ${keyFile}`
  );
}

function warnOnStderr(message: string): void {
  process.stderr.write(`files-sync: WARNING: ${message}\n`);
}
