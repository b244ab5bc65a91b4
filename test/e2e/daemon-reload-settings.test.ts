/** SIGHUP semantics in-process: settings every folder reads take effect; start-up-only ones say so. */
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

  next = { ...next, api: { ...next.api, concurrency: next.api.concurrency + 1 } };
  await daemon.reload();
  expect(daemon.folders.get('docs')).toBe(after);
  expect(lines.some((l) => String(l.msg).startsWith('api.* changes need a restart'))).toBe(true);
});
