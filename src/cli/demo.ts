/** `files-sync demo`: the daemon against an in-process emulator on loopback, narrated; no key needed. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { startEmulator } from '../emulator/index.js';
import { loadConfig } from '../config/load.js';
import { FilesClient } from '../api/client.js';
import { Daemon } from '../daemon.js';
import { createLogger } from '../log.js';
import type { OpOutcome } from '../sync/execute.js';
import { opPath } from '../sync/ops.js';
import { runCommand, EXIT } from './common.js';

interface DemoOptions {
  path?: string;
  wait?: boolean;
  port?: string;
}

const SAMPLE: Record<string, string> = {
  'README.md': '# Demo folder\n\nEvery file here is mirrored into the (emulated) Files API.\n',
  'notes/todo.txt': 'buy milk\nship files-sync\n',
  'reports/q3.csv': 'month,revenue\njul,10\naug,12\nsep,15\n',
  'contracts/2026/acme.pdf': '%PDF-1.4\n% a tiny stand-in for a real PDF\n%%EOF\n',
};

function describe(o: OpOutcome): string | undefined {
  const op = o.op;
  if (o.status !== 'done')
    return `  ! ${op.kind} ${opPath(op) ?? ''}: ${o.status}${o.error ? ` (${o.error})` : ''}`;
  switch (op.kind) {
    case 'upload':
    case 'reupload':
      return `  + uploaded  ${op.path} -> ${o.fileId ?? ''}`;
    case 'replace':
      return `  ~ replaced  ${op.path} -> ${o.fileId ?? ''} (old ${op.oldFileId} deleted)`;
    case 'delete':
      return `  - deleted   ${op.path} (${op.fileId})`;
    case 'move':
      return op.queued
        ? `  > moved     ${op.from} -> ${op.to} (no upload: same content; its ID taken back from the delete queue)`
        : `  > moved     ${op.from} -> ${op.to} (no upload: same content)`;
    default:
      return undefined;
  }
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('the demo timed out waiting for a change to sync');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Registers `demo`. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'Try files-sync with no key and no network: a local emulator, a sample folder, the daemon, narrated',
    )
    .option(
      '--path <dir>',
      'sync this folder instead of a generated sample (it is never modified by the script)',
    )
    .option('--no-wait', 'exit after the scripted changes instead of running until Ctrl-C')
    .option('--port <n>', 'emulator port (default: any free port)', '0')
    .addHelpText(
      'after',
      '\nExamples:\n  $ files-sync demo\n  $ files-sync demo --path ~/Documents/some-folder\n  $ npm run demo',
    )
    .action((opts: DemoOptions) =>
      runCommand(async () => {
        const say = (line: string) => process.stdout.write(`${line}\n`);
        const work = await fs.mkdtemp(path.join(os.tmpdir(), 'files-sync-demo-'));
        const emulator = await startEmulator({ port: Number(opts.port ?? 0) });
        const scripted = opts.path === undefined;
        const folder = opts.path ? path.resolve(opts.path) : path.join(work, 'folder');
        if (scripted) {
          for (const [rel, text] of Object.entries(SAMPLE)) {
            await fs.mkdir(path.dirname(path.join(folder, rel)), { recursive: true });
            await fs.writeFile(path.join(folder, rel), text);
          }
        }
        const configPath = path.join(work, 'sync.config.json');
        await fs.writeFile(
          configPath,
          JSON.stringify(
            {
              api: { baseUrl: emulator.url, concurrency: 4 },
              stateDir: path.join(work, 'state'),
              folders: [{ name: 'demo', path: folder }],
              watch: { debounceMs: 300 },
              reconcile: { intervalMs: 60_000 },
              log: { level: 'warn' },
            },
            null,
            2,
          ),
        );
        const { config } = await loadConfig({ configPath, env: {} });
        const logger = createLogger({
          level: 'warn',
          destination: process.stderr as unknown as import('pino').DestinationStream,
          pretty: false,
        });
        const client = new FilesClient({ apiKey: 'demo-key-not-secret', baseUrl: emulator.url, logger });
        say(`files-sync demo`);
        say(`  emulator : ${emulator.url} (in-process, loopback only)`);
        say(`  folder   : ${folder}`);
        say(`  config   : ${configPath}`);
        say('');
        const daemon = new Daemon({
          config,
          configPath,
          client,
          logger,
          httpListen: null,
          onOutcome: (_f, o) => {
            const line = describe(o);
            if (line) say(line);
          },
        });
        say('Starting the daemon: a first full reconciliation uploads everything.');
        await daemon.start();
        await daemon.idle();
        const fileIdOf = async (rel: string): Promise<string | undefined> => {
          const { openManifest } = await import('../state/manifest.js');
          return (await openManifest(config.stateDir, 'demo')).get(rel)?.fileId;
        };
        const listing = async () => {
          const { openManifest } = await import('../state/manifest.js');
          const m = await openManifest(config.stateDir, 'demo');
          const rows = [...m.entries()].sort(([a], [b]) => a.localeCompare(b));
          say('');
          say('files-sync ls:');
          for (const [p, e] of rows) say(`  ${p.padEnd(32)} ${e.fileId}`);
          say(`  (${emulator.files().length} files on the emulator)`);
          say('');
        };
        await listing();

        if (scripted) {
          const abs = (rel: string) => path.join(folder, rel);
          say('Editing notes/todo.txt ...');
          await fs.appendFile(abs('notes/todo.txt'), 'write the README\n');
          const before = await fileIdOf('notes/todo.txt');
          await until(async () => (await fileIdOf('notes/todo.txt')) !== before);
          say('Adding notes/ideas.md ...');
          await fs.writeFile(abs('notes/ideas.md'), '- a second idea\n');
          await until(async () => (await fileIdOf('notes/ideas.md')) !== undefined);
          say('Renaming reports/q3.csv -> archive/q3.csv ...');
          await fs.mkdir(abs('archive'), { recursive: true });
          await fs.rename(abs('reports/q3.csv'), abs('archive/q3.csv'));
          await until(
            async () =>
              (await fileIdOf('archive/q3.csv')) !== undefined &&
              (await fileIdOf('reports/q3.csv')) === undefined,
          );
          say('Removing README.md ...');
          await fs.rm(abs('README.md'));
          await until(async () => (await fileIdOf('README.md')) === undefined);
          await daemon.idle();
          await listing();
        }

        const shutdown = async () => {
          await daemon.stop();
          await emulator.close();
          await fs.rm(work, { recursive: true, force: true });
        };
        if (opts.wait === false) {
          await shutdown();
          say('Demo done.');
          return EXIT.ok;
        }
        say(`The daemon keeps running: change files in ${folder} and watch. Ctrl-C to stop.`);
        await new Promise<void>((resolve) => {
          const stop = () => {
            say('\nStopping ...');
            void shutdown().finally(resolve);
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        say('Demo done.');
        return EXIT.ok;
      }),
    );
}
