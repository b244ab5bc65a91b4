/**
 * The daemon never passes as "ok" while nothing reaches the API or a root is gone: a refused key
 * or an API failing every request (N2, F6), a full storage (issue 11), a root renamed away and
 * back (N3), symlinks created while it runs (F9). `files-sync run` as a child process, except the
 * quota case, which needs a short retry timer and runs the Daemon in-process.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { makeProject, runCli, TEST_KEY, type Project } from '../helpers/project.js';
import { waitFor } from '../helpers/wait.js';
import { loadConfig } from '../../src/config/load.js';
import { FilesClient } from '../../src/api/client.js';
import { Daemon } from '../../src/daemon.js';
import type { FaultOptions } from '../../src/emulator/index.js';
import { killDaemon, startDaemon, waitForSync, type DaemonProcess, type LogLine } from './daemon-harness.js';

let daemon: DaemonProcess | undefined;
afterEach(async () => {
  await killDaemon(daemon);
  daemon = undefined;
});

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await request(url);
  return { status: res.statusCode, body: await res.body.text() };
}

async function endpoint(d: DaemonProcess): Promise<string> {
  const line = await d.waitForLog((l) => l.msg === 'status endpoint listening', 'endpoint URL');
  return String(line.url);
}

/** healthz as JSON, with its status code. */
async function healthz(url: string): Promise<{ status: number; ok: boolean; reasons: string[] }> {
  const r = await get(`${url}/healthz`);
  return { status: r.status, ...(JSON.parse(r.body) as { ok: boolean; reasons: string[] }) };
}

const count = (d: DaemonProcess, msg: string) => d.logs().filter((l: LogLine) => l.msg === msg).length;

describe('daemon fails loudly', () => {
  it.each<[string, FaultOptions, RegExp]>([
    ['N2: a refused key', { refuseKey: true }, /^API key refused \(401\): check ANTHROPIC_API_KEY$/],
    ['F6: every request answered 529', { rate529: 1 }, /^API failing \(529 overloaded_error\)$/],
  ])(
    '%s: healthz 503 with the reason, status says it, logged once, recovers by itself',
    async (_l, faults, reason) => {
      const p = await makeProject({
        files: { 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c', 'd.txt': 'd', 'e.txt': 'e' },
        config: { api: { maxRetries: 2, concurrency: 4 } },
      });
      p.emulator.setFaults(faults);
      daemon = await startDaemon(p, ['--http', '127.0.0.1:0']);
      const url = await endpoint(daemon);

      await waitFor(async () => (await healthz(url)).status === 503, {
        timeoutMs: 30_000,
        message: 'healthz 503',
      });
      const h = await healthz(url);
      expect(h.ok).toBe(false);
      expect(h.reasons.some((r) => reason.test(r))).toBe(true);
      const st = await runCli(['status', '-c', p.configPath], { env: p.env });
      expect(st.stdout).toMatch(/Files API: DEGRADED: /);
      // The same sentence as healthz, e.g. "API key refused (401): check ANTHROPIC_API_KEY".
      expect(st.stdout).toMatch(new RegExp(`DEGRADED: ${reason.source.slice(1, -1)} \\(since`));
      const metrics = (await get(`${url}/metrics`)).body;
      expect(metrics).toMatch(/^files_sync_api_breaker_open 1$/m);

      // Probes keep failing meanwhile (1 s doubling to 30 s); the log says it once, not once per probe or per file.
      const probesBefore = p.emulator.stats().requests;
      await waitFor(() => p.emulator.stats().requests > probesBefore, {
        timeoutMs: 45_000,
        message: 'one more probe',
      });
      expect(count(daemon, 'Files API degraded: requests stopped, probing until it answers')).toBe(1);

      p.emulator.setFaults({});
      await waitFor(async () => (await healthz(url)).status === 200, {
        timeoutMs: 40_000,
        message: 'healthz back to 200',
      });
      await waitForSync(p, { what: 'every file once the API answers' });
      expect(count(daemon, 'the Files API answers again; resuming (reconciling every folder)')).toBe(1);
      expect((await daemon.stop('SIGTERM')).code).toBe(0);
    },
    120_000,
  );

  it('N3 + F9: a root renamed away and back is noticed, never read as deletions, and watched again; a live symlink is reported', async () => {
    const p = await makeProject({ files: { 'a.txt': 'a', 'sub/b.txt': 'b' } });
    daemon = await startDaemon(p, ['--http', '127.0.0.1:0']);
    const url = await endpoint(daemon);
    await waitForSync(p, { what: 'the first sync' });

    // F9: a symlink made while the daemon runs is reported like a FIFO.
    await fs.symlink(path.join(p.folder, 'a.txt'), path.join(p.folder, 'link.txt'));
    await daemon.waitForLog(
      (l) => l.path === 'link.txt' && l.reason === 'symlink',
      'the live symlink reported',
    );

    const away = `${p.folder}-away`;
    await fs.rename(p.folder, away);
    await daemon.waitForLog(
      (l) => l.msg === 'folder root missing; watching stopped until it comes back',
      'root loss logged',
    );
    await waitFor(async () => (await healthz(url)).status === 503, {
      message: 'healthz 503 while the root is gone',
    });
    expect((await healthz(url)).reasons.join('\n')).toMatch(/folder docs: unavailable \(folder root missing/);
    const st = await runCli(['status', '-c', p.configPath], { env: p.env });
    expect(st.stdout).toMatch(/docs .*: unavailable/);
    expect(st.stdout).toMatch(/folder root missing/);

    await fs.rename(away, p.folder);
    await daemon.waitForLog((l) => l.msg === 'folder root is back; watching again', 'root back logged');
    const before = Date.now();
    await p.write('new.txt', 'made after the root came back');
    await waitFor(() => p.emulator.files().some((f) => f.filename === 'new.txt'), {
      timeoutMs: 15_000,
      message: 'the new file uploaded by the watcher',
    });
    const seconds = (Date.now() - before) / 1000;
    expect(seconds).toBeLessThan(10);
    expect(p.emulator.stats().deletes ?? 0).toBe(0);
    await waitFor(async () => (await healthz(url)).status === 200, { message: 'healthz 200 again' });
    await waitForSync(p, {
      what: 'in sync after the root came back',
      folders: [{ root: p.folder, stateDir: p.stateDir, name: 'docs', exclude: ['link.txt'] }],
    });
    expect((await daemon.stop('SIGTERM')).code).toBe(0);
  }, 120_000);

  it('issue 11: a full storage pauses uploads (healthz, status, metric), deletes still run, uploads retry on a timer', async () => {
    const p: Project = await makeProject({ files: { 'old.txt': 'old' } });
    const lines: LogLine[] = [];
    const logger = pino(
      { level: 'info' },
      { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) },
    );
    const config = (await loadConfig({ configPath: p.configPath, env: p.env })).config;
    const client = () =>
      new FilesClient({
        apiKey: TEST_KEY,
        baseUrl: p.emulator.url,
        logger,
        breaker: { quotaRetryMs: 1_500 },
      });
    const first = new Daemon({
      config,
      configPath: p.configPath,
      client: client(),
      logger,
      httpListen: null,
    });
    await first.start();
    await waitFor(() => p.emulator.files().length === 1, { message: 'old.txt uploaded' });
    await first.stop();

    p.emulator.setStorageQuota(0);
    await p.remove('old.txt');
    await p.write('new1.txt', 'one');
    await p.write('new2.txt', 'two');
    const d = new Daemon({
      config,
      configPath: p.configPath,
      client: client(),
      logger,
      httpListen: '127.0.0.1:0',
    });
    await d.start();
    try {
      const url = d.httpUrl!;
      await waitFor(async () => (await healthz(url)).status === 503, {
        message: 'healthz 503 for the quota',
      });
      expect((await healthz(url)).reasons.join('\n')).toMatch(/storage quota exceeded/);
      expect(d.status().api?.uploadsPaused?.reason).toMatch(/delete files/);
      expect((await get(`${url}/metrics`)).body).toMatch(/^files_sync_uploads_paused 1$/m);
      // The delete ran though uploads are refused.
      await waitFor(() => p.emulator.files().length === 0, { message: 'old.txt deleted despite the quota' });
      expect(lines.filter((l) => l.msg === 'uploads paused: storage quota exceeded')).toHaveLength(1);

      p.emulator.setStorageQuota(null);
      await waitFor(() => p.emulator.files().length === 2, { timeoutMs: 20_000, message: 'uploads retried' });
      await waitFor(async () => (await healthz(url)).status === 200, { message: 'healthz 200 again' });
      expect(lines.some((l) => l.msg === 'uploads resumed: the storage quota has room again')).toBe(true);
    } finally {
      await d.stop();
    }
  }, 60_000);
});
