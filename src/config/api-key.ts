import { readFile } from 'node:fs/promises';
import { ConfigError } from './errors.js';
import type { Config } from './schema.js';

/**
 * The API key: $ANTHROPIC_API_KEY, else the first line of `api.keyFile` (e.g. a systemd
 * credential). Errors name where it was looked for, never the key.
 */
export async function resolveApiKey(
  config: Pick<Config, 'api'>,
  env: NodeJS.ProcessEnv = process.env,
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
