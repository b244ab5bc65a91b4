/**
 * `files-sync sync` never ends in exit 0 while a local file lacks its remote copy (F5), stops
 * promptly with one message when the API fails every request (F6), and says "storage quota" when
 * the organisation's storage is full (issue 11). The CLI as a child process against the emulator.
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { makeProject, type Project } from '../helpers/project.js';
import { syncJson } from '../helpers/sync-cli.js';

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function manyFiles(n: number): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < n; i++) files[`f/${String(i).padStart(3, '0')}.txt`] = `content ${i}`;
  return files;
}

/** Points the project's config (and env) at another base URL. */
async function pointAt(p: Project, baseUrl: string, api: Record<string, unknown> = {}): Promise<void> {
  const config = JSON.parse(await fs.readFile(p.configPath, 'utf8')) as { api: Record<string, unknown> };
  config.api = { ...config.api, baseUrl, ...api };
  await fs.writeFile(p.configPath, JSON.stringify(config, null, 2));
  p.env.ANTHROPIC_BASE_URL = baseUrl;
}

type Report = Awaited<ReturnType<typeof syncJson>>['reports'][number] & {
  listingError?: string;
  notMirrored?: Array<{ reason: string; count: number }>;
};

describe('sync fails loudly', () => {
  it('F5/F6: against a closed port both runs exit 1 with the reason; the breaker ends the first promptly', async () => {
    const p = await makeProject({ files: manyFiles(220) });
    await pointAt(p, `http://127.0.0.1:${await closedPort()}`, { maxRetries: 2, maxRetryTimeMs: 15_000 });

    const started = Date.now();
    const first = await syncJson(p);
    const firstSeconds = (Date.now() - started) / 1000;
    expect(first.code).toBe(1);
    const r1 = first.reports[0] as Report;
    expect(r1.failed).toHaveLength(220);
    expect(r1.notMirrored).toContainEqual({ reason: 'api-unavailable', count: expect.any(Number) as number });
    expect(first.stderr.match(/stopped sending requests: API unreachable \(ECONNREFUSED\)/g)).toHaveLength(1);
    // One retry budget is 15 s; with the breaker the run ends well inside it.
    expect(firstSeconds).toBeLessThan(30);

    // The second run used to say "failed 0, skipped 220 pending-intent" and exit 0.
    const second = await syncJson(p);
    expect(second.code).toBe(1);
    const r2 = second.reports[0] as Report;
    expect(r2.listingError).toMatch(/ECONNREFUSED/);
    expect(r2.notMirrored).toContainEqual({ reason: 'pending-intent', count: 220 });
  }, 120_000);

  it('F5: a listing that repeats its cursor ends in exit 1 naming the listing', async () => {
    const p = await makeProject({ files: { 'a.txt': 'a', 'b.txt': 'b' } });
    expect((await syncJson(p)).code).toBe(0);
    p.emulator.setFaults({ repeatCursor: true });
    const r = await syncJson(p);
    expect(r.code).toBe(1);
    expect((r.reports[0] as Report).listingError).toMatch(/repeated a cursor/);
  });

  it('F6: 220 files with every request answered 529 end promptly, with one message naming the cause', async () => {
    const p = await makeProject({ files: manyFiles(220) });
    await pointAt(p, p.emulator.url, { maxRetryTimeMs: 15_000 });
    p.emulator.setFaults({ rate529: 1 });
    const started = Date.now();
    const r = await syncJson(p);
    const seconds = (Date.now() - started) / 1000;
    expect(r.code).toBe(1);
    expect(r.stderr.match(/stopped sending requests: API failing \(529 overloaded_error\)/g)).toHaveLength(1);
    expect(seconds).toBeLessThan(45);
    // Not one error line per file: the listing's retries, the few that opened the breaker, the message.
    expect(r.stderr.trim().split('\n').length).toBeLessThan(30);
    // Listing retries plus the failures that open the breaker plus a few probes: not 220 x 7 attempts.
    expect(p.emulator.stats().requests).toBeLessThan(60);
  }, 120_000);

  it('issue 11: a full storage stops uploads (not deletes), exit 1 saying "storage quota"', async () => {
    const p = await makeProject({ files: { 'old.txt': 'old' } });
    expect((await syncJson(p)).code).toBe(0);
    await p.remove('old.txt');
    for (const [rel, content] of Object.entries(manyFiles(20))) await p.write(rel, content);
    p.emulator.setStorageQuota(0);
    const r = await syncJson(p);
    expect(r.code).toBe(1);
    expect(r.reports[0]).toMatchObject({ deleted: 1, uploaded: 0 });
    expect((r.reports[0] as Report).notMirrored).toEqual([{ reason: 'storage-quota', count: 20 }]);
    expect(r.stderr).toMatch(/storage quota exceeded: 20 uploads not done\. Delete files/);
    // Uploads after the first refusal are paused, not sent: at most the ones already under way.
    expect(p.emulator.stats().byRoute['POST /v1/files'] ?? 0).toBeLessThanOrEqual(1 + 4);
  });
});
