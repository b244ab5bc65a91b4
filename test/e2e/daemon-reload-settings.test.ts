/** SIGHUP semantics in-process: settings every folder reads take effect, log.level applies at once; start-up-only ones say so. */
import pino from 'pino';
import { expect, it } from 'vitest';
import { makeProject, TEST_KEY } from '../helpers/project.js';
import { onCleanup } from '../helpers/cleanup.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { FilesClient } from '../../src/api/client.js';
import { Daemon } from '../../src/daemon.js';
import type { LogLine } from './daemon-harness.js';

/** A started in-process daemon whose reloads read `reloaded()`, logging to `lines` at `level`. */
async function startReloadable(level: string) {
  const p = await makeProject({ files: { 'a.txt': 'a' } });
  const config = (await loadConfig({ configPath: p.configPath, env: p.env })).config;
  const lines: LogLine[] = [];
  const logger = pino({ level }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  const state = { next: config };
  const daemon = new Daemon({
    config,
    configPath: p.configPath,
    client: new FilesClient({ apiKey: TEST_KEY, baseUrl: p.emulator.url, logger }),
    logger,
    httpListen: null,
    loadConfig: async () => state.next,
  });
  onCleanup(() => daemon.stop());
  await daemon.start();
  return { config, lines, logger, daemon, reloadWith: (c: Config) => ((state.next = c), daemon.reload()) };
}

it('a reload that changes safety limits restarts the folders with them; api changes are reported as needing a restart', async () => {
  const { config, lines, daemon, reloadWith } = await startReloadable('debug');
  const before = daemon.folders.get('docs');

  let next: Config = { ...config, safety: { ...config.safety, maxDeletes: 1 } };
  expect(await reloadWith(next)).toBe(true);
  const after = daemon.folders.get('docs');
  expect(after).toBeDefined();
  expect(after).not.toBe(before);

  // api.concurrency is read by each folder's executor: the folders restart with it, no warning.
  next = { ...next, api: { ...next.api, concurrency: next.api.concurrency + 1 } };
  await reloadWith(next);
  const third = daemon.folders.get('docs');
  expect(third).not.toBe(after);
  expect(lines.some((l) => String(l.msg).startsWith('api.* changes need a restart'))).toBe(false);

  // The client's settings are fixed at start-up: said so, and the folders keep running.
  next = { ...next, api: { ...next.api, timeoutMs: next.api.timeoutMs + 1 } };
  await reloadWith(next);
  expect(daemon.folders.get('docs')).toBe(third);
  expect(lines.some((l) => String(l.msg).startsWith('api.* changes need a restart'))).toBe(true);
});

it('a reload applies log.level to the running logger and the loggers made from it', async () => {
  const { config, lines, logger, daemon, reloadWith } = await startReloadable('info');
  const child = logger.child({ folder: 'docs' });
  const folder = daemon.folders.get('docs');

  await reloadWith({ ...config, log: { level: 'debug' } });
  expect(logger.level).toBe('debug');
  expect(child.isLevelEnabled('debug')).toBe(true);
  expect(lines.some((l) => l.msg === 'log level changed' && l.to === 'debug')).toBe(true);
  // Only the level changed: the folders keep running.
  expect(daemon.folders.get('docs')).toBe(folder);

  await reloadWith({ ...config, log: { level: 'warn' } });
  expect(child.isLevelEnabled('info')).toBe(false);
  expect(lines.some((l) => l.msg === 'log level changed' && l.to === 'warn')).toBe(true);
});
