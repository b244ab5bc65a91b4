// A real PostgreSQL server for the tests: FILES_SYNC_TEST_DATABASE_URL when set, else a private throwaway cluster.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';

const run = promisify(execFile);

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the test server (password included: the tests check it never leaks). */
    postgresUrl: string;
    /** Why no server could be had; the PostgreSQL tests fail with it, the others run. */
    postgresError: string;
  }
}

/** The superuser password of the throwaway cluster: only ever on this machine, for one run. */
const PASSWORD = `pw-${Math.random().toString(36).slice(2)}`;

/** initdb's directory: on PATH, or the newest Debian /usr/lib/postgresql/<v>/bin. */
function findBinDir(): string | undefined {
  const onPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim();
  if (onPath !== '') return path.dirname(onPath);
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(path.join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : path.join(base, versions[0], 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A running cluster and how to remove it. */
export interface TestCluster {
  url: string;
  stop(): Promise<void>;
  /** Shuts the server down (fast mode: sessions are cut, commits kept) and keeps its data, for a restart test. */
  halt(): Promise<void>;
  /** Starts the halted server again on the same port with the same data. */
  restart(): Promise<void>;
}

/**
 * Starts a private cluster in a temp dir: unix socket inside it plus a loopback port, password
 * auth on TCP (so the redaction tests see a real password), durability off (it is thrown away).
 * PostgreSQL refuses to run as root, so as root the cluster belongs to user `postgres`.
 */
export async function startTestCluster(): Promise<TestCluster> {
  const bin = findBinDir();
  if (bin === undefined) {
    throw new Error(
      'no PostgreSQL binaries (initdb) found: install the Debian postgresql package or set FILES_SYNC_TEST_DATABASE_URL',
    );
  }
  const asRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'files-sync-pg-'));
  const data = path.join(dir, 'data');
  const pwfile = path.join(dir, 'pw');
  await writeFile(pwfile, PASSWORD, { mode: 0o600 });
  if (asRoot) {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    await chown(dir, uid, gid);
    await chown(pwfile, uid, gid);
  }
  await chmod(dir, 0o700);
  const as = (cmd: string, args: string[]): Promise<unknown> =>
    asRoot
      ? run('runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args])
      : run(path.join(bin, cmd), args);
  await as('initdb', [
    '-D',
    data,
    '-U',
    'postgres',
    `--pwfile=${pwfile}`,
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    '--no-sync',
    '--no-instructions',
    '-E',
    'UTF8',
    '--locale=C',
  ]);
  const port = await freePort();
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100`;
  const start = () =>
    as('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-o', options, '-w', '-t', '60', 'start']);
  await start();
  return {
    url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`,
    async halt() {
      await as('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    },
    async restart() {
      await start();
    },
    async stop() {
      await as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** vitest globalSetup: one server for the whole run, handed to the tests through inject(). */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.FILES_SYNC_TEST_DATABASE_URL;
  if (given !== undefined && given !== '') {
    project.provide('postgresUrl', given);
    project.provide('postgresError', '');
    return async () => undefined;
  }
  try {
    const cluster = await startTestCluster();
    project.provide('postgresUrl', cluster.url);
    project.provide('postgresError', '');
    return () => cluster.stop();
  } catch (err) {
    project.provide('postgresUrl', '');
    project.provide('postgresError', (err as Error).message);
    return async () => undefined;
  }
}
