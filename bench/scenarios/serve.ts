/**
 * Scenario 7: serving consumers from the daemon on a 100k-entry manifest. (a) GET /v1/lookup
 * latency (p50/p99) and throughput with keep-alive clients, daemon idle; (b) how long after the
 * manifest records a change its event reaches an SSE client; (c) `files-sync id` wall time with
 * the daemon answering vs reading the manifest itself (the baseline).
 */
import http from 'node:http';
import net from 'node:net';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { REPO_ROOT } from '../lib/child.js';
import { isDaemonStarted, isReconcileDone, startDaemon } from '../lib/daemon.js';
import { startBenchEmulator } from '../lib/emulator.js';
import {
  absPath,
  buildDist,
  CLI_ENTRY,
  INSTALLED_CLI,
  productEnv,
  writeProductConfig,
} from '../lib/product.js';
import {
  median,
  percentile,
  ratioOf,
  round,
  type Check,
  type Measurement,
  type Scenario,
} from '../lib/results.js';
import { prepareSyncedTree } from '../lib/synced-tree.js';
import { BenchError } from '../lib/errors.js';
import { takeSseMessages } from '../../src/serve/client.js';

const LOOKUP = 'GET /v1/lookup (daemon idle)';
const SSE = 'SSE event after the manifest records the change';
const ID_DAEMON = 'files-sync id (daemon answers)';
const ID_MANIFEST = 'files-sync id (reads the manifest)';
const ID_CONFIG = 'files-sync id -c CONFIG (daemon answers)';
const ID_TSX = 'files-sync id via tsx from src/ (daemon answers)';
const NODE_BARE = 'node -e 0 (process start)';

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function get(agent: http.Agent, port: number, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

/** Runs `node <args>` to completion and returns its wall time, stdout and exit code. */
function timeNode(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ ms: number; code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ ms: performance.now() - started, code, out, err }));
  });
}

export const serveScenario: Scenario = {
  id: 'serve',
  title: 'Serving consumers: lookups, change stream latency, `files-sync id` with the daemon',
  async run(ctx) {
    const files = ctx.quick ? 10_000 : 100_000;
    const lookups = ctx.quick ? 2_000 : 20_000;
    const clients = 4;
    const edits = ctx.quick ? 10 : 30;
    const idRuns = ctx.quick ? 3 : 15;
    const emulator = await startBenchEmulator();
    const checks: Check[] = [];
    const notes: string[] = [];
    try {
      ctx.log('building dist/ (the installed CLI is what `files-sync id` runs)');
      await buildDist();
      ctx.log(`writing and seeding ${files} files`);
      const tree = await prepareSyncedTree(ctx.workDir, { seed: ctx.seed, files, emulator: emulator.core });
      const env = productEnv(emulator.url);
      const configPath = await writeProductConfig(ctx.workDir, {
        baseUrl: emulator.url,
        folderPath: tree.root,
        stateDir: tree.stateDir,
        concurrency: 4,
        debounceMs: 100,
        logLevel: 'warn',
      });
      const port = await freePort();
      const config = JSON.parse(await fs.readFile(configPath, 'utf8')) as Record<string, unknown>;
      await fs.writeFile(
        configPath,
        JSON.stringify({ ...config, http: { listen: `127.0.0.1:${port}` }, log: { level: 'info' } }),
      );
      const daemon = startDaemon(configPath, env);
      const measurements: Measurement[] = [];
      try {
        await daemon.waitForLog(isDaemonStarted, 15 * 60_000, 'daemon started');
        await daemon.waitForLog(isReconcileDone, 15 * 60_000, 'start-up reconciliation');
        const paths = tree.corpus.files.map((f) => f.path);

        // (a) Lookups: `clients` keep-alive connections, each sending requests one after another.
        ctx.log(`${lookups} lookups over ${clients} connections`);
        const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
        const latencies: number[] = [];
        let bad = 0;
        let next = 0;
        const started = performance.now();
        await Promise.all(
          Array.from({ length: clients }, async () => {
            while (next < lookups) {
              const i = next++;
              const p = paths[(i * 7919) % paths.length]!;
              const t = performance.now();
              const r = await get(agent, port, `/v1/lookup?folder=bench&path=${encodeURIComponent(p)}`);
              latencies.push(performance.now() - t);
              if (r.status !== 200 || !r.body.includes('"state":"synced"')) bad++;
            }
          }),
        );
        const wallS = (performance.now() - started) / 1000;
        agent.destroy();
        measurements.push({
          contender: LOOKUP,
          role: 'ours',
          metrics: {
            p50_ms: round(median(latencies)),
            p99_ms: round(percentile(latencies, 99)),
            max_ms: round(Math.max(...latencies)),
            lookups_per_s: round(lookups / wallS),
          },
          note: `${lookups} lookups of random paths over ${clients} keep-alive connections on loopback; each answer is a map read plus one stat of the file`,
        });
        checks.push({
          name: 'every lookup answered 200 synced',
          ok: bad === 0,
          detail: `${bad} other answers`,
        });
        checks.push({
          name: 'lookup p99 <= 5 ms',
          ok: percentile(latencies, 99) <= 5,
          detail: `${round(percentile(latencies, 99))} ms`,
        });
        checks.push({
          name: '>= 1,000 lookups/s',
          ok: lookups / wallS >= 1000,
          detail: `${round(lookups / wallS)}/s`,
        });

        // (b) SSE: edit one file at a time; the event's time is stamped when the manifest recorded it.
        ctx.log(`${edits} edits with an SSE client listening`);
        const sseDelays: number[] = [];
        const editToEvent: number[] = [];
        await new Promise<void>((resolve, reject) => {
          const req = http.get({ host: '127.0.0.1', port, path: '/v1/events' }, (res) => {
            let buf = '';
            let waiting: { path: string; at: number; done: () => void } | undefined;
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              const { messages, rest } = takeSseMessages(buf + chunk);
              buf = rest;
              for (const m of messages) {
                if (!m.data || !waiting) continue;
                const e = JSON.parse(m.data) as { path: string; time: string };
                if (e.path !== waiting.path) continue;
                sseDelays.push(Date.now() - Date.parse(e.time));
                editToEvent.push(performance.now() - waiting.at);
                waiting.done();
              }
            });
            void (async () => {
              for (let k = 0; k < edits; k++) {
                const p = paths[(k * 104_729) % paths.length]!;
                await new Promise<void>((done) => {
                  waiting = { path: p, at: performance.now(), done };
                  void fs.appendFile(absPath(tree.root, p), `edit ${k}\n`);
                });
              }
              req.destroy();
              resolve();
            })().catch(reject);
          });
          req.on('error', (err) => (sseDelays.length >= edits ? resolve() : reject(err)));
        });
        measurements.push({
          contender: SSE,
          role: 'ours',
          metrics: {
            p50_ms: round(median(sseDelays)),
            p99_ms: round(percentile(sseDelays, 99)),
            edit_to_event_p50_ms: round(median(editToEvent)),
          },
          note: `${edits} edits one at a time (debounce 100 ms); delay = arrival - the event's time, stamped as the manifest records the upload (ms clock)`,
        });
        checks.push({
          name: 'SSE event <= 50 ms after the manifest records it (p99)',
          ok: percentile(sseDelays, 99) <= 50,
          detail: `${percentile(sseDelays, 99)} ms`,
        });

        // (c) `files-sync id` as installed: the package's bin (bin/files-sync.cjs -> dist/), with the
        // daemon answering vs without it; and from src/ through tsx, as the tests and `npm start` run it.
        const bin = INSTALLED_CLI;
        const target = absPath(tree.root, paths[0]!);
        const noHttp = path.join(ctx.workDir, 'no-http.config.json');
        await fs.writeFile(noHttp, JSON.stringify({ ...config, log: { level: 'warn' } }));
        // Round robin, one run of each per round: the load of other processes on this machine moves
        // node's own start-up by 100 ms within a minute, and must weigh on every contender alike.
        const variants = {
          daemon: [bin, 'id', target, '--http', `127.0.0.1:${port}`],
          config: [bin, 'id', target, '-c', configPath],
          tsx: ['--import', 'tsx', CLI_ENTRY, 'id', target, '-c', configPath],
          manifest: [bin, 'id', target, '-c', noHttp],
          bare: ['-e', '0'],
        };
        const walls = Object.fromEntries(Object.keys(variants).map((k) => [k, [] as number[]])) as Record<
          keyof typeof variants,
          number[]
        >;
        ctx.log(
          `files-sync id x${idRuns} each way (daemon by --http, by -c, via tsx, the manifest; node -e 0)`,
        );
        for (let k = 0; k < idRuns; k++) {
          for (const [name, argv] of Object.entries(variants) as Array<[keyof typeof variants, string[]]>) {
            const r = await timeNode(argv, env);
            if (name !== 'bare' && (r.code !== 0 || !r.out.startsWith('file_')))
              throw new BenchError(`id (${name}) failed: ${r.err}`, {});
            walls[name].push(r.ms);
          }
        }
        const { daemon: withDaemon, config: viaConfig, tsx: viaTsx, manifest: withManifest, bare } = walls;
        const floor = median(bare);
        const idRow = (contender: string, role: 'ours' | 'reference', walls: number[], note: string) =>
          measurements.push({
            contender,
            role,
            metrics: { wall_ms: round(median(walls)), over_node_start_ms: round(median(walls) - floor) },
            note: `median of ${idRuns}, ${note}`,
          });
        idRow(ID_DAEMON, 'ours', withDaemon, 'bin/files-sync.cjs id PATH --http ADDRESS (no config read)');
        idRow(
          ID_CONFIG,
          'ours',
          viaConfig,
          'bin/files-sync.cjs id PATH -c CONFIG: takes http.listen from the config file, then asks the daemon',
        );
        idRow(
          ID_TSX,
          'reference',
          viaTsx,
          'node --import tsx src/cli/main.ts id PATH -c CONFIG: what a development checkout pays (tsx transpiles every module it loads); not how users run it',
        );
        measurements.push({
          contender: NODE_BARE,
          role: 'reference',
          metrics: { wall_ms: round(median(bare)) },
          note: 'node -e 0: what any node CLI pays on this machine right now (load varies)',
        });
        measurements.push({
          contender: ID_MANIFEST,
          role: 'baseline',
          metrics: {
            wall_ms: round(median(withManifest)),
            over_node_start_ms: round(median(withManifest) - floor),
          },
          note: `median of ${idRuns}; bin/files-sync.cjs id PATH -c CONFIG with no http.listen: reads the one manifest shard that holds the path`,
        });
        checks.push({
          name: '`files-sync id` with the daemon <= 150 ms (--http and -c CONFIG)',
          ok: Math.max(median(withDaemon), median(viaConfig)) <= 150,
          detail: `${round(median(withDaemon))} ms / ${round(median(viaConfig))} ms (node itself starts in ${round(floor)} ms right now)`,
        });
        checks.push({
          name: '`files-sync id` without the daemon <= 150 ms (reads the manifest)',
          ok: median(withManifest) <= 150,
          detail: `${round(median(withManifest))} ms (node itself starts in ${round(floor)} ms right now)`,
        });
      } finally {
        await daemon.stop();
      }
      return {
        sizes: { files, lookups, clients, edits, manifestBytes: tree.manifestBytes },
        measurements,
        ratios: [
          ratioOf(measurements, ID_DAEMON, ID_MANIFEST, 'wall_ms', 'lower'),
          ratioOf(measurements, ID_CONFIG, ID_MANIFEST, 'wall_ms', 'lower'),
        ],
        checks,
        notes,
      };
    } finally {
      await emulator.close();
    }
  },
};
