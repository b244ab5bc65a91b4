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

it('a reload that changes safety limits restarts the folders with them; api changes are reported as needing a restart', async () => {
  const p = await makeProject({ files: { 'a.txt': 'a' } });
  const config = (await loadConfig({ configPath: p.configPath, env: p.env })).config;
  const lines: LogLine[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) },
  );
  let next: Config = config;
  const daemon = new Daemon({
    config,
    configPath: p.configPath,
    client: new FilesClient({ apiKey: TEST_KEY, baseUrl: p.emulator.url, logger }),
    logger,
    httpListen: null,
    loadConfig: async () => next,
  });
  onCleanup(() => daemon.stop());
  await daemon.start();
  const before = daemon.folders.get('docs');

  next = { ...config, safety: { ...config.safety, maxDeletes: 1 } };
  expect(await daemon.reload()).toBe(true);
  const after = daemon.folders.get('docs');
  expect(after).toBeDefined();
  expect(after).not.toBe(before);

  // api.concurrency is read by each folder's executor: the folders restart with it, no warning.
  next = { ...next, api: { ...next.api, concurrency: next.api.concurrency + 1 } };
  await daemon.reload();
  const third = daemon.folders.get('docs');
  expect(third).not.toBe(after);
  expect(lines.some((l) => String(l.msg).startsWith('api.* changes need a restart'))).toBe(false);

  // The client's settings are fixed at start-up: said so, and the folders keep running.
  next = { ...next, api: { ...next.api, timeoutMs: next.api.timeoutMs + 1 } };
  await daemon.reload();
  expect(daemon.folders.get('docs')).toBe(third);
  expect(lines.some((l) => String(l.msg).startsWith('api.* changes need a restart'))).toBe(true);
});

it('a reload applies log.level to the running logger and the loggers made from it', async () => {
  const p = await makeProject({ files: { 'a.txt': 'a' } });
  const config = (await loadConfig({ configPath: p.configPath, env: p.env })).config;
  const lines: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  const child = logger.child({ folder: 'docs' });
  let next: Config = config;
  const daemon = new Daemon({
    config,
    configPath: p.configPath,
    client: new FilesClient({ apiKey: TEST_KEY, baseUrl: p.emulator.url, logger }),
    logger,
    httpListen: null,
    loadConfig: async () => next,
  });
  onCleanup(() => daemon.stop());
  await daemon.start();
  const folder = daemon.folders.get('docs');

  next = { ...config, log: { level: 'debug' } };
  await daemon.reload();
  expect(logger.level).toBe('debug');
  expect(child.isLevelEnabled('debug')).toBe(true);
  expect(lines.some((l) => l.msg === 'log level changed' && l.to === 'debug')).toBe(true);
  // Only the level changed: the folders keep running.
  expect(daemon.folders.get('docs')).toBe(folder);

  next = { ...config, log: { level: 'warn' } };
  await daemon.reload();
  expect(child.isLevelEnabled('info')).toBe(false);
  expect(lines.some((l) => l.msg === 'log level changed' && l.to === 'warn')).toBe(true);
});
