// The database settings of backend "postgres": no password in a URL (config or env), a private password file beside the config.
import { readFile, stat } from 'node:fs/promises';
import type { ConfigIssue } from './errors.js';
import { resolveAgainst } from './paths.js';
import type { Config } from './schema.js';

const PASSWORD_FIX =
  'remove the password from the URL and give it in PGPASSWORD, or in a file named by state.passwordFile (chmod 600)';

/** The problem with a database URL, if any; never quotes the URL (it may hold the password). */
function urlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'is not a URL of the form postgres://user@host:port/database';
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
    return `is not a PostgreSQL URL (scheme "${u.protocol.replace(/:$/, '')}"; expected postgres://user@host:port/database)`;
  if (u.password !== '')
    return 'holds a password; a URL is seen in process lists, logs and backups of the config';
  for (const key of u.searchParams.keys())
    if (/pass/i.test(key))
      return `holds a password (the "${key}" parameter); a URL is seen in process lists, logs and backups of the config`;
  return undefined;
}

/**
 * Checks the state settings and resolves `state.passwordFile` against the config file's
 * directory. A URL with a password is refused wherever it comes from (state.url, or
 * FILES_SYNC_DATABASE_URL whatever the backend: `state migrate` uses it too), and a password file
 * must exist, be non-empty and not be open to other users.
 */
export async function checkStateSettings(
  state: Config['state'],
  env: NodeJS.ProcessEnv,
  configDir: string,
): Promise<{ state: Config['state']; issues: ConfigIssue[] }> {
  const issues: ConfigIssue[] = [];
  if (state.url !== undefined) {
    const problem = urlProblem(state.url);
    if (problem !== undefined)
      issues.push({ path: 'state.url', message: `the database URL ${problem}`, fix: PASSWORD_FIX });
  }
  const fromEnv = env.FILES_SYNC_DATABASE_URL;
  if (fromEnv !== undefined && fromEnv !== '') {
    const problem = urlProblem(fromEnv);
    if (problem !== undefined)
      issues.push({
        path: 'FILES_SYNC_DATABASE_URL',
        message: `the database URL ${problem}`,
        fix: PASSWORD_FIX.replace('state.passwordFile', 'state.passwordFile in the config'),
      });
  }
  if (state.passwordFile === undefined) return { state, issues };
  const passwordFile = resolveAgainst(state.passwordFile, configDir, env);
  const problem = await passwordFileProblem(passwordFile);
  if (problem !== undefined) issues.push(problem);
  return { state: { ...state, passwordFile }, issues };
}

async function passwordFileProblem(file: string): Promise<ConfigIssue | undefined> {
  const where = 'state.passwordFile';
  let mode: number;
  let text: string;
  try {
    mode = (await stat(file)).mode & 0o777;
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return {
      path: where,
      message: `password file cannot be read (${code}): ${file}`,
      fix: `create ${file} (the password on its first line, chmod 600) readable by this user, or unset state.passwordFile and set PGPASSWORD`,
    };
  }
  if (process.platform !== 'win32' && (mode & 0o007) !== 0) {
    return {
      path: where,
      message: `password file is open to other users (mode ${mode.toString(8).padStart(4, '0')}): ${file}`,
      fix: `run chmod 600 ${file}`,
    };
  }
  if ((text.split(/\r?\n/)[0] ?? '') === '') {
    return {
      path: where,
      message: `password file is empty (the password goes on its first line): ${file}`,
      fix: `write the password into ${file}, or unset state.passwordFile and set PGPASSWORD`,
    };
  }
  return undefined;
}
