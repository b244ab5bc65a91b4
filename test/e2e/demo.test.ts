/** `files-sync demo --no-wait`: the scripted tour runs to completion against its in-process emulator. */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/project.js';

describe('files-sync demo', () => {
  it('--no-wait exits 0 after narrating an upload, a replace, a move and a delete', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.ANTHROPIC_API_KEY;
    const r = await runCli(['demo', '--no-wait'], { env, timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ {2}\+ uploaded {2}README\.md -> file_\w+$/m);
    expect(r.stdout).toMatch(/^ {2}~ replaced {2}notes\/todo\.txt -> file_\w+ \(old file_\w+ deleted\)$/m);
    expect(r.stdout).toMatch(/^ {2}> moved {5}reports\/q3\.csv -> archive\/q3\.csv/m);
    expect(r.stdout).toMatch(/^ {2}- deleted {3}README\.md \(file_\w+\)$/m);
    expect(r.stdout).toContain('Demo done.');
    expect(r.stdout).not.toMatch(/^ {2}! /m);
  });
});
