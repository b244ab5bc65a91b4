/** `files-sync status --json` and the loopback endpoint (/healthz, /status, /metrics) of a running daemon, and after it stopped. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { makeProject, runCli, type Project } from '../helpers/project.js';
import { waitFor } from '../helpers/wait.js';
import { startDaemon, waitForSync, type DaemonProcess } from './daemon-harness.js';

let daemon: DaemonProcess | undefined;

interface StatusJson {
  running: boolean;
  pid: number | null;
  uptimeSeconds: number | null;
  folders: Array<{
    name: string;
    mode: string;
    filesTracked: number;
    pendingUploads: number;
    pendingDeletes: number;
    queueDepth: number;
    lastReconcile?: { result: string };
  }>;
}

async function status(p: Project): Promise<{ code: number | null; json: StatusJson }> {
  const r = await runCli(['status', '--json', '-c', p.configPath], { env: p.env });
  return { code: r.code, json: JSON.parse(r.stdout) as StatusJson };
}

/** The daemon's snapshot file, read directly: cheap to poll, unlike spawning the CLI. */
async function snapshot(
  p: Project,
): Promise<{ pid: number; folders: Array<{ filesTracked: number; queueDepth: number }> } | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(p.stateDir, 'status.json'), 'utf8')) as {
      pid: number;
      folders: Array<{ filesTracked: number; queueDepth: number }>;
    };
  } catch {
    return undefined;
  }
}

async function get(url: string): Promise<{ status: number; type: string; body: string }> {
  const res = await request(url);
  return { status: res.statusCode, type: String(res.headers['content-type']), body: await res.body.text() };
}

describe('status of the daemon', () => {
  it('status --json and the HTTP endpoint while running; status after SIGTERM and after SIGKILL', async () => {
    const p = await makeProject({ files: { 'a.txt': 'a\n', 'b/c.txt': 'c\n', 'b/d.txt': 'd\n' } });
    daemon = await startDaemon(p, ['--http', '127.0.0.1:0']);
    await waitForSync(p);

    // Port 0: the log names the port actually bound.
    const listening = await daemon.waitForLog((l) => l.msg === 'status endpoint listening', 'endpoint URL');
    const url = String(listening.url);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*$/);

    // The snapshot follows changes within a moment: wait for one that shows the synced files.
    await waitFor(
      async () => {
        const snap = await snapshot(p);
        return snap?.folders[0]?.filesTracked === 3 && snap.folders[0].queueDepth === 0;
      },
      { timeoutMs: 20_000, message: 'snapshot shows 3 tracked' },
    );
    const s = await status(p);
    expect(s.code).toBe(0);
    expect(s.json).toMatchObject({ running: true, pid: daemon.pid });
    expect(s.json.folders[0]).toMatchObject({
      name: 'docs',
      mode: 'watching',
      pendingUploads: 0,
      pendingDeletes: 0,
    });
    expect(s.json.folders[0]!.lastReconcile?.result).toBe('ok');

    const health = await get(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ ok: true });
    const live = await get(`${url}/status`);
    expect(live.status).toBe(200);
    expect(live.type).toContain('application/json');
    expect(JSON.parse(live.body)).toMatchObject({
      pid: daemon.pid,
      folders: [{ name: 'docs', filesTracked: 3 }],
    });
    const metrics = await get(`${url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^files_sync_uploads_total\{folder="docs",kind="upload"\} 3$/m);
    expect(metrics.body).toMatch(/^files_sync_files_tracked\{folder="docs"\} 3$/m);
    expect((await get(`${url}/nope`)).status).toBe(404);

    expect((await daemon.stop('SIGTERM')).code).toBe(0);
    const after = await status(p);
    expect(after.code).toBe(3);
    expect(after.json).toMatchObject({ running: false, pid: null });
    expect(after.json.folders[0]).toMatchObject({
      name: 'docs',
      mode: 'stopped',
      filesTracked: 3,
      pendingUploads: 0,
    });
    await expect(request(`${url}/healthz`)).rejects.toThrow();

    // A killed daemon leaves a snapshot behind whose pid is gone: still "not running".
    daemon = await startDaemon(p);
    await waitFor(async () => (await snapshot(p))?.pid === daemon!.pid, {
      timeoutMs: 20_000,
      message: 'snapshot of the second daemon',
    });
    await daemon.stop('SIGKILL');
    const killed = await status(p);
    expect(killed.code).toBe(3);
    expect(killed.json.running).toBe(false);
    expect(killed.json.folders[0]!.filesTracked).toBe(3);
  });
});
