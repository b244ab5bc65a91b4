/** SIGHUP makes `files-sync run` re-read its config: new folders start; a bad config keeps the old one running. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeProject } from '../helpers/project.js';
import {
  projectFolder,
  readConfig,
  startDaemon,
  waitForSync,
  writeConfig,
  writeUnder,
  type DaemonProcess,
  type LogLine,
} from './daemon-harness.js';

let daemon: DaemonProcess | undefined;

describe('SIGHUP reload', () => {
  it('starts a folder added to the config without a restart, and keeps running on a broken config', async () => {
    const p = await makeProject({ files: { 'one.txt': 'one\n' } });
    const photos = path.join(p.dir, 'photos');
    await writeUnder(photos, 'cat.jpg', 'not really a jpeg\n');
    await writeUnder(photos, '2026/dog.jpg', 'not one either\n');
    const both = [projectFolder(p), { root: photos, stateDir: p.stateDir, name: 'photos' }];
    daemon = await startDaemon(p);
    await waitForSync(p, { what: 'the first folder' });

    const config = await readConfig(p);
    const folders = config.folders as Array<Record<string, unknown>>;
    await writeConfig(p, { ...config, folders: [...folders, { name: 'photos', path: photos }] });
    daemon.child.kill('SIGHUP');
    const reloaded = await daemon.waitForLog((l) => l.msg === 'configuration reloaded', 'reload');
    expect(reloaded.started).toEqual(['photos']);
    await waitForSync(p, { folders: both, what: 'the added folder' });

    const failures = (d: DaemonProcess) =>
      d.logs().filter((l) => l.msg === 'config reload failed; keeping the running configuration');
    // Not JSON at all.
    await fs.writeFile(p.configPath, '{ "folders": [ { "name": "docs", ');
    daemon.child.kill('SIGHUP');
    await daemon.waitForLog(() => failures(daemon!).length === 1, 'first failed reload');
    // Valid JSON, but a folder that does not exist.
    await writeConfig(p, {
      ...config,
      folders: [{ name: 'docs', path: path.join(p.dir, 'no-such-folder') }],
    });
    daemon.child.kill('SIGHUP');
    await daemon.waitForLog(() => failures(daemon!).length === 2, 'second failed reload');
    const [syntax, missing] = failures(daemon) as [LogLine, LogLine];
    expect(String(syntax.err)).toMatch(/JSON|syntax|parse/i);
    expect(String(missing.err)).toContain('no-such-folder');

    // Both folders still sync under the old configuration.
    await p.write('two.txt', 'two\n');
    await writeUnder(photos, 'bird.jpg', 'tweet\n');
    await waitForSync(p, { folders: both, what: 'changes after failed reloads' });
    expect(daemon.child.exitCode).toBeNull();
    expect((await daemon.stop('SIGTERM')).code).toBe(0);
  });
});
