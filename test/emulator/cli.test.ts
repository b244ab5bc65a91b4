import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { emulatorOptionsFromCli, FAULTS_ENV, registerEmulatorCommand } from '../../src/cli/emulator.js';
import { CliExit } from '../../src/cli/common.js';
import { call } from './support.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/emulator-cli.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));

describe('emulatorOptionsFromCli', () => {
  it('uses port 8787 on 127.0.0.1 and no faults by default', () => {
    expect(emulatorOptionsFromCli({}, {})).toEqual({ port: 8787, host: '127.0.0.1', faults: {} });
  });

  it('maps every flag', () => {
    const o = emulatorOptionsFromCli(
      {
        port: '0',
        host: '::1',
        dataDir: '/tmp/x',
        apiKey: 'k',
        rpm: '100',
        maxUploadBytes: '1000',
        fault429: '0.1',
        fault500: '0.2',
        fault529: '0.3',
        faultReset: '0.04',
        faultCreatedReset: '0.05',
        latency: '20',
        retryAfterMs: '250',
        seed: '7',
      },
      {},
    );
    expect(o).toEqual({
      port: 0,
      host: '::1',
      dataDir: '/tmp/x',
      apiKey: 'k',
      requestsPerMinute: 100,
      maxUploadBytes: 1000,
      faults: {
        rate429: 0.1,
        rate500: 0.2,
        rate529: 0.3,
        rateReset: 0.04,
        rateCreatedThenReset: 0.05,
        latencyMs: 20,
        retryAfterMs: 250,
        seed: 7,
      },
    });
  });

  it('reads faults from the environment, flags winning', () => {
    const env = { [FAULTS_ENV]: JSON.stringify({ rate500: 0.5, latencyMs: 10 }) };
    expect(emulatorOptionsFromCli({ fault500: '0.1' }, env).faults).toEqual({ rate500: 0.1, latencyMs: 10 });
  });

  it('maps the GA-only, workspace and storage quota flags', () => {
    const o = emulatorOptionsFromCli(
      { gaOnly: true, workspaces: 'wrkspc_a, wrkspc_b', storageQuotaBytes: '1000' },
      {},
    );
    expect(o).toMatchObject({ gaOnly: true, workspaces: ['wrkspc_a', 'wrkspc_b'], storageQuotaBytes: 1000 });
  });

  it.each([
    [{ workspaces: 'wrkspc_a,,wrkspc_b' }, {}],
    [{ storageQuotaBytes: 'lots' }, {}],
    [{ port: 'abc' }, {}],
    [{ port: '70000' }, {}],
    [{ fault429: '1.5' }, {}],
    [{ fault500: 'often' }, {}],
    [{ rpm: '-1' }, {}],
    [{ apiKey: '' }, {}],
    [{}, { [FAULTS_ENV]: '{not json' }],
    [{}, { [FAULTS_ENV]: '{"rate500": 3}' }],
    [{}, { [FAULTS_ENV]: '[1]' }],
  ])('refuses %j with env %j as a usage error', (flags, env) => {
    let caught: unknown;
    try {
      emulatorOptionsFromCli(flags, env);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CliExit);
    expect((caught as CliExit).exitCode).toBe(64);
  });
});

describe('files-sync emulator', () => {
  it('--help shows the flags and an example', async () => {
    let out = '';
    const program = new Command()
      .exitOverride()
      .configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
    registerEmulatorCommand(program);
    await expect(program.parseAsync(['node', 'files-sync', 'emulator', '--help'])).rejects.toMatchObject({
      exitCode: 0,
    });
    expect(out).toContain('--fault-created-reset');
    expect(out).toContain('Examples:');
    expect(out).toContain('files-sync emulator --port 8787');
  });

  it('prints ANTHROPIC_BASE_URL, serves with the given faults, and stops cleanly on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        FIXTURE,
        'emulator',
        '--port',
        '0',
        '--api-key',
        'sk-cli-secret-key',
        '--fault-500',
        '0.25',
        '--seed',
        '3',
        '--rpm',
        '1000',
      ],
      {
        cwd: REPO,
        env: { ...process.env, [FAULTS_ENV]: '{"latencyMs":1}' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit');
    try {
      await expect.poll(() => stdout, { timeout: 30_000, interval: 50 }).toMatch(/\n$/);
      const m = /^ANTHROPIC_BASE_URL=(http:\/\/127\.0\.0\.1:\d+)\n$/.exec(stdout);
      expect(m, `stdout: ${stdout} stderr: ${stderr}`).not.toBeNull();
      const url = m?.[1] as string;
      const state = await call({ url }, 'GET', '/_emulator/state', { noDefaultHeaders: true });
      expect(state.json.faults).toEqual({ rate500: 0.25, seed: 3, latencyMs: 1 });
      expect(state.json.requestsPerMinute).toBe(1000);
      const wrongKey = await call({ url }, 'GET', '/v1/files/file_x', { headers: { 'x-api-key': 'nope' } });
      expect([401, 500]).toContain(wrongKey.status);
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = await exited;
    expect(code).toBe(0);
    expect(stdout).not.toContain('sk-cli-secret-key');
    expect(stderr).not.toContain('sk-cli-secret-key');
  });
});
