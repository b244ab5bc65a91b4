/**
 * Scenario 2: restart on a large tree where nothing changed. Time until files-sync is "in sync"
 * (the one-shot `sync`, and the daemon's start-up reconciliation) vs a plain stat walk of the tree
 * (the floor) and vs re-hashing every file. Zero uploads and zero hashes are expected.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { assertExitOk, REPO_ROOT, runNode, runProgram, type ChildRun } from '../lib/child.js';
import { isDaemonStarted, isReconcileDone, startDaemon } from '../lib/daemon.js';
import { startBenchEmulator } from '../lib/emulator.js';
import { compileScript } from '../lib/compile.js';
import {
  buildDist,
  CLI_ENTRY,
  INSTALLED_CLI,
  productEnv,
  startupReference,
  writeProductConfig,
} from '../lib/product.js';
import { median, ratioOf, seconds, type Check, type Measurement, type Scenario } from '../lib/results.js';
import { sizeFromEnv } from '../lib/sizes.js';
import { prepareSyncedTree } from '../lib/synced-tree.js';

const SYNC = 'files-sync sync';
const DAEMON = 'files-sync run (start-up reconciliation)';
const SYNC_FROM_SOURCE = 'files-sync sync, from source (tsx)';
const DAEMON_FROM_SOURCE = 'files-sync run, from source (tsx)';
const STAT_WALK = 'stat walk (floor)';
const FIND = 'find -printf (native floor)';
const STAT_WALK_TSX = 'stat walk, through tsx';
const REHASH = 're-hash everything';
const BASELINE_DIR = path.join(REPO_ROOT, 'bench', 'baselines');

interface SyncReport {
  uploaded: number;
  hashed: number;
  unchanged: number;
  localFiles: number;
  failed: unknown[];
}

interface Sample {
  inSyncMs: number;
  cpuMs: number | null;
  rssMB: number | null;
  hashed?: number;
  uploaded?: number;
  extra?: Record<string, number>;
}

function fromRun(run: ChildRun): Sample {
  return { inSyncMs: run.wallMs, cpuMs: run.cpuMs, rssMB: run.maxRssMB };
}

export const noopRestartScenario: Scenario = {
  id: 'noop-restart',
  title: 'No-op restart on an unchanged tree: time until in sync',
  async run(ctx) {
    const files = sizeFromEnv('FILES', ctx.quick ? 10_000 : 100_000);
    // Three, so the median is a run and not the mean of two: one run slowed by the machine's load
    // (the walk alone moves by 20% from run to run here) no longer moves the ratio.
    const repeats = ctx.quick ? 1 : 3;
    const emulator = await startBenchEmulator();
    try {
      ctx.log(`writing and seeding ${files} files`);
      const tree = await prepareSyncedTree(ctx.workDir, { seed: ctx.seed, files, emulator: emulator.core });
      const env = productEnv(emulator.url);
      const config = await writeProductConfig(ctx.workDir, {
        baseUrl: emulator.url,
        folderPath: tree.root,
        stateDir: tree.stateDir,
        concurrency: 4,
        reconcileIntervalMs: 0,
      });
      const uploadsBefore = emulator.core.stats().uploadsCreated;
      const checks: Check[] = [];

      ctx.log('building dist/ and the baselines (all run by plain node, as the installed CLI is)');
      await buildDist();
      const jsDir = await fs.mkdtemp(path.join(ctx.workDir, 'js-'));
      const statWalk = await compileScript(path.join(BASELINE_DIR, 'stat-walk.ts'), jsDir);
      const rehashWalk = await compileScript(path.join(BASELINE_DIR, 'rehash-walk.ts'), jsDir);
      const noop = await compileScript(path.join(REPO_ROOT, 'bench', 'contenders', 'noop.ts'), jsDir);

      const statWalkRun = async (name: string, installed: boolean): Promise<Sample> => {
        const script = installed ? statWalk : path.join(BASELINE_DIR, 'stat-walk.ts');
        const run = await runNode(script, ['--root', tree.root], { tsx: !installed });
        assertExitOk(run, name);
        return fromRun(run);
      };
      const syncRun = async (name: string, installed: boolean): Promise<Sample> => {
        const entry = installed ? INSTALLED_CLI : CLI_ENTRY;
        const run = await runNode(entry, ['sync', '-c', config, '--json'], { env, tsx: !installed });
        assertExitOk(run, name);
        const report = (JSON.parse(run.stdout) as SyncReport[])[0];
        return {
          ...fromRun(run),
          hashed: report?.hashed ?? -1,
          uploaded: report?.uploaded ?? -1,
          extra: { unchanged: report?.unchanged ?? -1 },
        };
      };
      const daemonRun = async (name: string, installed: boolean): Promise<Sample> => {
        const daemon = startDaemon(config, env, [], { installed });
        try {
          const done = await daemon.waitForLog(isReconcileDone, 20 * 60_000, 'reconciliation done');
          const started = await daemon.waitForLog(isDaemonStarted, 20 * 60_000, 'daemon started');
          const run = await daemon.stop();
          assertExitOk(run, name);
          return {
            inSyncMs: done.at - daemon.startedAt,
            cpuMs: run.cpuMs,
            rssMB: run.maxRssMB,
            hashed: Number(done.fields.hashed ?? -1),
            uploaded: Number(done.fields.uploaded ?? -1),
            extra: {
              watcher_ready_s: (started.at - daemon.startedAt) / 1000,
              unchanged: Number(done.fields.unchanged ?? -1),
            },
          };
        } finally {
          await daemon.stop();
        }
      };

      const contenders: Array<{
        name: string;
        role: Measurement['role'];
        /** A files-sync run: it must hash and upload nothing. */
        product?: true;
        note: string;
        run: () => Promise<Sample>;
      }> = [
        {
          name: STAT_WALK,
          role: 'baseline',
          note: 'bench/baselines/stat-walk.ts, compiled to JavaScript and run by node: readdir + lstat of every file, 16 in flight',
          run: () => statWalkRun(STAT_WALK, true),
        },
        {
          name: REHASH,
          role: 'baseline',
          note: 'bench/baselines/rehash-walk.ts, compiled to JavaScript and run by node: walk + SHA-256 of every file, 4 in flight',
          run: async () => {
            const run = await runNode(rehashWalk, ['--root', tree.root], { tsx: false });
            assertExitOk(run, REHASH);
            return { ...fromRun(run), hashed: (JSON.parse(run.stdout) as { files: number }).files };
          },
        },
        {
          name: FIND,
          role: 'reference',
          note: "`find DIR -type f -printf '%s %T@ %i\\n'`: the same walk and lstat (size, mtime, inode) in C, no node start-up: the native floor",
          run: async () => {
            const run = await runProgram('find', [tree.root, '-type', 'f', '-printf', '%s %T@ %i\n']);
            assertExitOk(run, FIND);
            return fromRun(run);
          },
        },
        {
          name: SYNC,
          role: 'ours',
          product: true,
          note: '`sync -c <config> --json` of the installed CLI (bin/files-sync.cjs -> dist/, as users run it): lock; list the remote (pages of 1000) and walk the folder (on a thread) while the manifest is read; plan, exit',
          run: () => syncRun(SYNC, true),
        },
        {
          name: DAEMON,
          role: 'ours',
          product: true,
          note: '`run -c <config>` of the installed CLI, from spawn to its "reconciliation done" log line; the listing and the watcher start as the manifest is read, the walk (on a thread) once the watcher is ready',
          run: () => daemonRun(DAEMON, true),
        },
        {
          name: STAT_WALK_TSX,
          role: 'reference',
          note: 'the same stat-walk.ts through tsx: the floor for the from-source rows',
          run: () => statWalkRun(STAT_WALK_TSX, false),
        },
        {
          name: SYNC_FROM_SOURCE,
          role: 'reference',
          product: true,
          note: 'the same `sync` from src/ through tsx (`npm start`); tsx compiles and loads each of ~100 modules',
          run: () => syncRun(SYNC_FROM_SOURCE, false),
        },
        {
          name: DAEMON_FROM_SOURCE,
          role: 'reference',
          product: true,
          note: 'the same `run` from src/ through tsx (`npm start`)',
          run: () => daemonRun(DAEMON_FROM_SOURCE, false),
        },
      ];

      // One untimed walk so every contender starts from the same warm page and dentry caches.
      await runNode(statWalk, ['--root', tree.root], { tsx: false });
      const samples = new Map<string, Sample[]>(contenders.map((c) => [c.name, []]));
      for (let r = 0; r < repeats; r++) {
        for (const c of contenders) {
          ctx.log(`run ${r + 1}/${repeats}: ${c.name}`);
          samples.get(c.name)!.push(await c.run());
        }
      }

      const measurements: Measurement[] = contenders.map((c) => {
        const ss = samples.get(c.name)!;
        const inSync = median(ss.map((s) => s.inSyncMs));
        const cpu = ss.map((s) => s.cpuMs).filter((v): v is number => v !== null);
        const rss = ss.map((s) => s.rssMB).filter((v): v is number => v !== null);
        const last = ss[ss.length - 1]!;
        const metrics: Record<string, number | null> = {
          in_sync_s: seconds(inSync),
          files_per_s: files / (inSync / 1000),
          cpu_s: cpu.length ? seconds(median(cpu)) : null,
          peak_rss_mb: rss.length ? median(rss) : null,
          hashed: last.hashed ?? 0,
          uploads: last.uploaded ?? 0,
          ...last.extra,
        };
        if (c.product === true) {
          const hashes = Math.max(...ss.map((s) => s.hashed ?? 0));
          const uploads = Math.max(...ss.map((s) => s.uploaded ?? 0));
          checks.push({
            name: `${c.name}: zero hashes`,
            ok: hashes === 0,
            detail: `most hashed in a run: ${hashes}`,
          });
          checks.push({
            name: `${c.name}: zero uploads reported`,
            ok: uploads === 0,
            detail: `most uploaded in a run: ${uploads}`,
          });
        }
        return { contender: c.name, role: c.role, metrics, note: c.note };
      });
      const uploadsAfter = emulator.core.stats().uploadsCreated;
      checks.push({
        name: 'the emulator received zero uploads',
        ok: uploadsAfter === uploadsBefore,
        detail: `${uploadsAfter - uploadsBefore} uploads`,
      });

      measurements.push(
        await startupReference(
          'an empty script run by node the same way; part of every figure above but find',
          {
            compiledNoop: noop,
            wallMetric: 'in_sync_s',
          },
        ),
        await startupReference('an empty script through tsx; part of the from-source figures', {
          wallMetric: 'in_sync_s',
        }),
      );

      const ratios = [SYNC, DAEMON].flatMap((ours) => [
        ratioOf(measurements, ours, STAT_WALK, 'in_sync_s', 'lower'),
        ratioOf(measurements, ours, REHASH, 'in_sync_s', 'lower'),
        ratioOf(measurements, ours, STAT_WALK, 'cpu_s', 'lower'),
        ratioOf(measurements, ours, REHASH, 'cpu_s', 'lower'),
        ratioOf(measurements, ours, FIND, 'in_sync_s', 'lower'),
      ]);
      for (const fromSource of [SYNC_FROM_SOURCE, DAEMON_FROM_SOURCE])
        ratios.push(ratioOf(measurements, fromSource, STAT_WALK_TSX, 'in_sync_s', 'lower'));
      return {
        sizes: { files, bytes: tree.corpus.bytes, manifest_bytes: tree.manifestBytes, repeats },
        measurements,
        ratios,
        checks,
        notes: [
          'The tree, manifest and remote files are seeded in-process (Manifest.set with the real lstat and SHA-256; emulator.addFile with the same IDs), so no upload precedes the measurement.',
          'in_sync_s is spawn-to-exit for `sync` and the baselines, spawn-to-"reconciliation done" for the daemon (median of the repeats); files-sync also lists every remote file, which the baselines do not.',
          'Ours and the baselines run as JavaScript on plain node (the installed CLI, the baselines compiled by esbuild), so the ratios compare the work and not a TypeScript loader; the from-source rows show what tsx adds.',
        ],
      };
    } finally {
      await emulator.close();
    }
  },
};
