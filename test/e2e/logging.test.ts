/**
 * The daemon logs JSON lines on stdout, and the API key appears nowhere: not in any output of a
 * run with retries (injected faults) or of a run with a wrong key (401), nor in the state files.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { journalPrefix } from '../../src/log.js';
import { CLI_ENTRY, makeProject, REPO_ROOT, TEST_KEY, TSX_LOADER } from '../helpers/project.js';
import { onCleanup } from '../helpers/cleanup.js';
import { waitFor } from '../helpers/wait.js';
import { parseLogLines, startDaemon, waitForSync, type DaemonProcess } from './daemon-harness.js';

let daemon: DaemonProcess | undefined;

const WRONG_KEY = 'sk-ant-wrong-key-0000-NOT-THE-RIGHT-ONE';

describe('daemon logging', () => {
  it('JSON lines on stdout; neither the key nor a wrong key ever appears, through retries and a 401', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 30; i++) files[`f${i}.txt`] = `file ${i}\n`;
    const p = await makeProject({
      files,
      emulator: { faults: { rate500: 0.2, rate429: 0.1, rateReset: 0.05, retryAfterMs: 20, seed: 42 } },
      config: { log: { level: 'debug' } },
    });
    const output: string[] = [];

    daemon = await startDaemon(p, ['--http', '127.0.0.1:0']);
    await waitForSync(p, { timeoutMs: 60_000, what: 'sync through injected faults' });
    await p.write('edited-live.txt', 'during faults\n');
    await waitForSync(p, { timeoutMs: 60_000, what: 'a live change through injected faults' });
    const injected = Object.values(p.emulator.stats().faultsInjected).reduce((a, b) => a + b, 0);
    expect(injected).toBeGreaterThan(0);
    const url = String(
      (await daemon.waitForLog((l) => l.msg === 'status endpoint listening', 'endpoint')).url,
    );
    const metrics = await (await request(`${url}/metrics`)).body.text();
    expect(metrics).toMatch(/^files_sync_api_retries_total\{[^}]*\} [1-9]/m);
    expect((await daemon.stop('SIGTERM')).code).toBe(0);
    const faultyRun = daemon;
    output.push(faultyRun.stdout(), faultyRun.stderr());
    expect(faultyRun.logs().some((l) => l.msg === 'retrying Files API call')).toBe(true);

    // The same folder with a wrong key: every request is refused with 401.
    p.emulator.setFaults({});
    await p.write('needs-upload.txt', 'the wrong key cannot upload this\n');
    daemon = await startDaemon(p, [], { ...p.env, ANTHROPIC_API_KEY: WRONG_KEY });
    await daemon.waitForLog((l) => JSON.stringify(l).includes('401'), 'a 401 in the log');
    await daemon.waitForLog((l) => l.msg === 'reconciliation done', 'the startup pass to finish');
    expect((await daemon.stop('SIGTERM')).code).toBe(0);
    output.push(daemon.stdout(), daemon.stderr());

    for (const text of [faultyRun.stdout(), daemon.stdout()]) {
      const lines = parseLogLines(text); // throws on any line that is not JSON
      expect(lines.length).toBeGreaterThan(3);
      for (const l of lines) expect(l).toHaveProperty('level');
    }
    const everything = output.join('\n');
    expect(everything).not.toContain(TEST_KEY);
    expect(everything).not.toContain(WRONG_KEY);
    // Nor in what the daemon leaves on disk.
    for (const name of await fs.readdir(p.stateDir)) {
      const text = await fs.readFile(path.join(p.stateDir, name), 'utf8').catch(() => '');
      expect(text, name).not.toContain(TEST_KEY);
      expect(text, name).not.toContain(WRONG_KEY);
    }
  });
});

describe('journald: syslog priority prefixes when stdout is the journal stream', () => {
  it('prefixes every line with <3>/<4>/<6>/<7> by level when JOURNAL_STREAM names stdout, and only then', async () => {
    const p = await makeProject({
      files: { 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c' },
      emulator: { faults: { rate429: 0.5, retryAfterMs: 20, seed: 7 } },
    });
    const logFile = path.join(p.dir, 'journal.log');
    const out = await fs.open(logFile, 'w');
    const st = await out.stat({ bigint: true });
    const child = spawn(
      process.execPath,
      ['--import', TSX_LOADER, CLI_ENTRY, 'run', '-v', '-c', p.configPath],
      {
        cwd: REPO_ROOT,
        env: { ...p.env, JOURNAL_STREAM: `${st.dev}:${st.ino}` },
        stdio: ['ignore', out.fd, 'pipe'],
      },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    onCleanup(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    await out.close();
    const text = () => fs.readFile(logFile, 'utf8');
    await waitFor(async () => /"msg":"reconciliation done"/.test(await text()), {
      timeoutMs: 60_000,
      message: 'the startup reconciliation through 429s',
    });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);

    const lines = (await text()).split('\n').filter((l) => l !== '');
    const seen = new Set<string>();
    for (const line of lines) {
      const match = /^<(\d)>(\{.*\})$/.exec(line);
      expect(match, line).not.toBeNull();
      const level = (JSON.parse(match![2]!) as { level: string }).level;
      expect(match![1], line).toBe(
        { fatal: '3', error: '3', warn: '4', info: '6', debug: '7', trace: '7' }[level],
      );
      seen.add(match![1]!);
    }
    // Warnings (retries of the 429s), info and debug (-v) were all there to be checked.
    expect([...seen].sort()).toEqual(expect.arrayContaining(['4', '6', '7']));
    expect(lines[0]).toMatch(/^<6>\{"level":"info".*"msg":"files-sync starting"/);
  });

  it('keeps plain JSON when JOURNAL_STREAM is set but names another stream (output redirected)', async () => {
    const p = await makeProject({ files: { 'a.txt': 'a' } });
    daemon = await startDaemon(p, [], { ...p.env, JOURNAL_STREAM: '8:12345' });
    await daemon.waitForLog((l) => l.msg === 'reconciliation done', 'the startup pass');
    expect((await daemon.stop('SIGTERM')).code).toBe(0);
    expect(daemon.stdout()).toMatch(/^\{"level":"info"/);
    expect(parseLogLines(daemon.stdout()).length).toBeGreaterThan(2);
  });
});

describe('journalPrefix', () => {
  it('maps error and fatal to <3>, warn to <4>, info to <6>, debug and trace to <7>', () => {
    const prefixes = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'].map((level) =>
      journalPrefix(`{"level":"${level}","msg":"x"}`),
    );
    expect(prefixes).toEqual(['<3>', '<3>', '<4>', '<6>', '<7>', '<7>']);
  });
});
