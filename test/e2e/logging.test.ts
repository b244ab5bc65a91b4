/**
 * The daemon logs JSON lines on stdout, and the API key appears nowhere: not in any output of a
 * run with retries (injected faults) or of a run with a wrong key (401), nor in the state files.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { makeProject, TEST_KEY } from '../helpers/project.js';
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
