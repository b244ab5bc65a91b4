/** Shared pieces of the consumer API tests: an in-process daemon with its endpoint, and an SSE reader. */
import http from 'node:http';
import pino from 'pino';
import { makeProject, TEST_KEY, type Project } from '../helpers/project.js';
import { onCleanup } from '../helpers/cleanup.js';
import { loadConfig } from '../../src/config/load.js';
import { parseListenTarget } from '../../src/config/listen.js';
import { FilesClient } from '../../src/api/client.js';
import { Daemon } from '../../src/daemon.js';
import {
  connectOptions,
  getFromDaemon,
  takeSseMessages,
  type DaemonResponse,
} from '../../src/serve/client.js';
import type { ChangeEvent } from '../../src/serve/change-events.js';

export interface Served {
  project: Project;
  daemon: Daemon;
  url: string;
  get(
    pathAndQuery: string,
    headers?: Record<string, string>,
  ): Promise<DaemonResponse & { json: Record<string, unknown> }>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A project with a running in-process daemon listening on `listen` (loopback, any port, by default). */
export async function serve(
  opts: {
    config?: Record<string, unknown>;
    files?: Record<string, string>;
    listen?: string;
    token?: string;
  } = {},
  project?: Project,
): Promise<Served> {
  const p = project ?? (await makeProject({ config: opts.config ?? {}, files: opts.files ?? {} }));
  const logger = pino({ level: 'silent' });
  let daemon!: Daemon;
  const start = async () => {
    const { config } = await loadConfig({ configPath: p.configPath, env: p.env });
    daemon = new Daemon({
      config,
      configPath: p.configPath,
      client: new FilesClient({ apiKey: TEST_KEY, baseUrl: p.emulator.url, logger }),
      logger,
      httpListen: opts.listen ?? '127.0.0.1:0',
      drainMs: 2_000,
    });
    // As `run` does: a start that fails stops what it started (the lock, the event log).
    await daemon.start().catch(async (err: unknown) => {
      await daemon.stop().catch(() => undefined);
      throw err;
    });
    await daemon.idle();
  };
  await start();
  onCleanup(() => daemon.stop());
  const served: Served = {
    project: p,
    daemon,
    get url() {
      return daemon.httpUrl!;
    },
    async get(pathAndQuery, headers = {}) {
      const target = parseListenTarget(daemon.httpUrl!.replace(/^http:\/\//, ''))!;
      const res = await getFromDaemon(target, pathAndQuery, {
        timeoutMs: 60_000,
        headers,
        token: opts.token,
      });
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(res.body) as Record<string, unknown>;
      } catch {
        // Not every route answers JSON (/metrics).
      }
      return { ...res, json };
    },
    async restart() {
      await daemon.stop();
      await start();
      served.daemon = daemon;
    },
    stop: () => daemon.stop(),
  };
  return served;
}

export interface SseStream {
  status: number;
  events: ChangeEvent[];
  /** Raw `event:` names in order, `reset` included. */
  names: string[];
  body(): string;
  close(): void;
}

/** Opens /v1/events and collects what arrives. */
export function openStream(
  url: string,
  query = '',
  headers: Record<string, string> = {},
): Promise<SseStream> {
  const target = parseListenTarget(url.replace(/^http:\/\//, ''))!;
  return new Promise((resolve, reject) => {
    const where = connectOptions(target);
    const socket = 'path' in where ? { socketPath: where.path } : where;
    const req = http.get({ ...socket, path: `/v1/events${query}`, headers }, (res) => {
      let text = '';
      const stream: SseStream = {
        status: res.statusCode ?? 0,
        events: [],
        names: [],
        body: () => text,
        close: () => req.destroy(),
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const { messages, rest } = takeSseMessages(text + chunk);
        text = rest;
        for (const m of messages) {
          if (m.event !== undefined) stream.names.push(m.event);
          if (m.event !== undefined && m.event !== 'reset' && m.data !== undefined)
            stream.events.push(JSON.parse(m.data) as ChangeEvent);
        }
      });
      res.on('error', () => undefined);
      resolve(stream);
    });
    req.on('error', reject);
  });
}
