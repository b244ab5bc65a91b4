/** The installed launcher (bin/files-sync.cjs) with the bundled `id` fast path: answers as the full CLI does, hands everything else to it, needs nothing but node built-ins. */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, TSX_LOADER } from '../helpers/project.js';
import { serve } from '../serve/support.js';
import { bundleIdFastPath } from '../../scripts/bundle-id.mjs';

interface Said {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Marks runs that reached the full CLI: a stand-in for dist/cli/cli.js in the copied layout. */
const FULL_CLI_STUB = `export async function main() { process.stdout.write('full CLI: ' + process.argv.slice(2).join(' ') + '\\n'); }\n`;

let root: string;

/** bin/ as shipped, next to dist/cli/ holding the bundle built from src/ and the full-CLI stand-in. */
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'files-sync-bin-'));
  await fs.mkdir(path.join(root, 'bin'));
  await fs.mkdir(path.join(root, 'dist', 'cli'), { recursive: true });
  await fs.copyFile(path.join(REPO_ROOT, 'bin', 'files-sync.cjs'), path.join(root, 'bin', 'files-sync.cjs'));
  await fs.writeFile(path.join(root, 'package.json'), '{"type":"module"}\n');
  await fs.writeFile(path.join(root, 'dist', 'cli', 'cli.js'), FULL_CLI_STUB);
  await bundleIdFastPath(path.join(root, 'dist', 'cli', 'id-fast.cjs'));
});

afterAll(() => fs.rm(root, { recursive: true, force: true }));

function node(argv: string[], env: NodeJS.ProcessEnv): Promise<Said> {
  return new Promise((resolve) => {
    execFile(process.execPath, argv, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function bin(args: string[], env: NodeJS.ProcessEnv): Promise<Said> {
  return node([path.join(root, 'bin', 'files-sync.cjs'), ...args], env);
}

/** The full command alone (src/cli/cli.ts), never the fast path. */
function fullCli(args: string[], env: NodeJS.ProcessEnv): Promise<Said> {
  const run = `const { main } = await import(${JSON.stringify(path.join(REPO_ROOT, 'src', 'cli', 'cli.ts'))}); await main(['node', 'files-sync', ...JSON.parse(process.argv[1])]);`;
  return node(['--import', TSX_LOADER, '--input-type=module', '-e', run, JSON.stringify(args)], env);
}

describe('bin/files-sync.cjs', () => {
  it('the bundle requires nothing but node built-ins', async () => {
    const text = await fs.readFile(path.join(root, 'dist', 'cli', 'id-fast.cjs'), 'utf8');
    const required = [...text.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]!);
    expect(required.length).toBeGreaterThan(0);
    expect(required.filter((r) => !r.startsWith('node:'))).toEqual([]);
  });

  it('answers `id` from the daemon and from the manifest exactly as the full CLI does', async () => {
    const s = await serve({ files: { 'report.pdf': '%PDF-1.4\n', 'notes/a.txt': 'a\n' } });
    const { project } = s;
    const sock = path.join(project.dir, 'api.sock');
    const abs = path.join(project.folder, 'report.pdf');
    const missing = path.join(project.folder, 'nope.txt');
    const cases = [
      [abs, '--block'],
      [abs, '--json'],
      [path.join(project.folder, 'notes', 'a.txt')],
      [missing],
    ];
    // Without a daemon endpoint: the manifest.
    for (const args of cases) {
      const viaBin = await bin(['id', ...args, '-c', project.configPath], project.env);
      const full = await fullCli(['id', ...args, '-c', project.configPath], project.env);
      expect(viaBin, args.join(' ')).toEqual(full);
      expect(viaBin.stdout).not.toMatch(/full CLI/);
    }
    // Through the daemon, by --http: TCP, then a Unix socket (restarted there).
    const address = s.url.replace('http://', '');
    const byTcp = await bin(['id', abs, '--http', address], project.env);
    expect(byTcp.code).toBe(0);
    expect(byTcp.stdout).toMatch(/^file_\w+\n$/);
    const config = JSON.parse(await fs.readFile(project.configPath, 'utf8')) as Record<string, unknown>;
    await fs.writeFile(project.configPath, JSON.stringify({ ...config, http: { listen: `unix:${sock}` } }));
    await s.stop();
    const sSock = await serve({ listen: `unix:${sock}` }, project);
    expect(sSock.url).toBeDefined();
    for (const args of cases) {
      const viaBin = await bin(['id', ...args, '-c', project.configPath], project.env);
      const full = await fullCli(['id', ...args, '-c', project.configPath], project.env);
      expect(viaBin, `socket: ${args.join(' ')}`).toEqual(full);
    }
  });

  it('hands every other command, and any `id` it does not handle plainly, to the full CLI', async () => {
    const env = { ...process.env, FILES_SYNC_CONFIG: path.join(root, 'absent.json') };
    expect((await bin(['status'], env)).stdout).toBe('full CLI: status\n');
    expect((await bin(['id', 'x.txt', '--verbose'], env)).stdout).toBe('full CLI: id x.txt --verbose\n');
    // No config file to find: the full command is the one to say so.
    expect((await bin(['id', 'x.txt'], env)).stdout).toBe('full CLI: id x.txt\n');
  });
});
