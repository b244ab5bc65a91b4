/**
 * Scenario 9: the PostgreSQL state store (issue #14). A private cluster is started for the run.
 * (a) Lookups by SQL on the consumer table at 100k entries, against a `SELECT 1` round trip on
 * the same connections (the floor any query pays). (b) Change latency with the daemon's state in
 * PostgreSQL against the same edits with lowdb files, same tree, same run. (c) Failover: two
 * daemons on one folder, the owner SIGKILLed, time until an edit made after the kill is uploaded.
 */
import path from 'node:path';
import pg from 'pg';
import { startTestCluster } from '../../test/helpers/postgres-server.js';
import { clientConfig, createDatabase, migrateToPostgres, type BenchDatabase } from '../lib/pg.js';
import { Manifest } from '../../src/state/manifest.js';
import { entryFor, entryPath } from '../lib/synthetic-entries.js';
import { firstMissing, runEditsUnderDaemon, type EditRunResult } from '../lib/edit-run.js';
import { smallEditRunOptions } from './latency.js';
import {
  median,
  percentile,
  ratioOf,
  round,
  seconds,
  type Check,
  type Measurement,
  type Scenario,
} from '../lib/results.js';
import { measureFailover } from '../lib/failover.js';

const SQL_LOOKUP = 'SQL lookup (files_sync.entries by folder, path)';
const SQL_FLOOR = 'SELECT 1 round trip';
const PG_LATENCY = 'files-sync run, state in PostgreSQL';
const LOWDB_LATENCY = 'files-sync run, state in lowdb files';
const FAILOVER = 'failover: owner SIGKILLed -> standby uploads a new edit';
const FOLDER = 'bench';

/** `entries` synthetic entries written to lowdb files, then moved by the product's migration. */
async function seedEntries(workDir: string, db: BenchDatabase, entries: number): Promise<void> {
  const stateDir = path.join(workDir, 'sql-state');
  const root = path.join(workDir, 'sql-root');
  const manifest = await Manifest.open(stateDir, { name: FOLDER, root });
  for (let k = 0; k < entries; k++) manifest.set(entryPath(k), entryFor(k));
  await manifest.close();
  await migrateToPostgres(db, { name: FOLDER, root }, stateDir);
}

/** `total` queries over `clients` connections, each waiting for its answer; per-query ms and wall s. */
async function timeQueries(
  db: BenchDatabase,
  clients: number,
  total: number,
  query: (k: number) => pg.QueryConfig,
  check: (k: number, rows: unknown[]) => boolean,
): Promise<{ latencies: number[]; wallS: number; bad: number }> {
  const conns = await Promise.all(
    Array.from({ length: clients }, async () => {
      const c = new pg.Client(clientConfig(db));
      await c.connect();
      return c;
    }),
  );
  const latencies: number[] = [];
  let bad = 0;
  let next = 0;
  const started = performance.now();
  try {
    await Promise.all(
      conns.map(async (c) => {
        while (next < total) {
          const k = next++;
          const t = performance.now();
          const { rows } = await c.query(query(k));
          latencies.push(performance.now() - t);
          if (!check(k, rows)) bad++;
        }
      }),
    );
  } finally {
    await Promise.all(conns.map((c) => c.end()));
  }
  return { latencies, wallS: (performance.now() - started) / 1000, bad };
}

function latencyMetrics(r: EditRunResult): Record<string, number | null> {
  const l = r.latenciesMs;
  return {
    p50_s: l.length ? seconds(percentile(l, 50)) : null,
    p99_s: l.length ? seconds(percentile(l, 99)) : null,
    daemon_cpu_during_edits_s: seconds(r.daemonEditCpuMs),
    daemon_rss_after_mb: r.daemonRssAfterMB,
  };
}

export const postgresScenario: Scenario = {
  id: 'postgres',
  title: 'PostgreSQL state: SQL lookups, change latency against lowdb, failover time',
  async run(ctx) {
    const entries = ctx.quick ? 10_000 : 100_000;
    const lookups = ctx.quick ? 5_000 : 20_000;
    const clients = 4;
    ctx.log('starting a private PostgreSQL cluster');
    const cluster = await startTestCluster();
    try {
      const measurements: Measurement[] = [];
      const checks: Check[] = [];

      // (a) SQL lookups on the consumer table.
      const sqlDb = await createDatabase(cluster, 'bench_sql');
      ctx.log(`seeding ${entries} entries (lowdb, then files-sync state migrate)`);
      await seedEntries(ctx.workDir, sqlDb, entries);
      ctx.log(`${lookups} lookups over ${clients} connections`);
      const pick = (k: number) => (k * 104_729) % entries;
      const sql = await timeQueries(
        sqlDb,
        clients,
        lookups,
        (k) => ({
          name: 'lookup',
          text: 'SELECT file_id FROM files_sync.entries WHERE folder = $1 AND path = $2',
          values: [FOLDER, entryPath(pick(k))],
        }),
        (k, rows) => (rows[0] as { file_id?: string } | undefined)?.file_id === entryFor(pick(k)).fileId,
      );
      const floor = await timeQueries(
        sqlDb,
        clients,
        lookups,
        () => ({ name: 'floor', text: 'SELECT 1 AS one' }),
        (_k, rows) => rows.length === 1,
      );
      for (const [contender, role, r] of [
        [SQL_LOOKUP, 'ours', sql],
        [SQL_FLOOR, 'baseline', floor],
      ] as const) {
        measurements.push({
          contender,
          role,
          metrics: {
            lookups_per_s: round(lookups / r.wallS),
            p50_ms: round(median(r.latencies)),
            p99_ms: round(percentile(r.latencies, 99)),
          },
          note: `${lookups} prepared queries over ${clients} connections on loopback (TCP, scram auth), ${entries} entries in the folder`,
        });
      }
      checks.push({
        name: 'every SQL lookup returned the recorded file ID',
        ok: sql.bad === 0,
        detail: `${sql.bad} wrong or missing of ${lookups}`,
      });
      checks.push({
        name: '>= 1,000 SQL lookups/s',
        ok: lookups / sql.wallS >= 1000,
        detail: `${round(lookups / sql.wallS)}/s`,
      });

      // (b) Change latency: the same edits with each backend (the lowdb run is shared with `latency`).
      const editOptions = smallEditRunOptions(ctx.quick, ctx.seed);
      ctx.log(`change latency, ${editOptions.treeFiles} files: state in PostgreSQL`);
      const onPg = await runEditsUnderDaemon(
        { ...editOptions, postgres: await createDatabase(cluster, 'bench_latency') },
        ctx.log,
      );
      ctx.log(`change latency, ${editOptions.treeFiles} files: state in lowdb files`);
      const onLowdb = await runEditsUnderDaemon(editOptions, ctx.log);
      const editNote = (r: EditRunResult) =>
        `${r.edits} distinct files rewritten every ${r.intervalMs} ms in a tree of ${r.treeFiles} synced files, watch.debounceMs ${r.debounceMs}`;
      measurements.push(
        { contender: PG_LATENCY, role: 'ours', metrics: latencyMetrics(onPg), note: editNote(onPg) },
        {
          contender: LOWDB_LATENCY,
          role: 'baseline',
          metrics: latencyMetrics(onLowdb),
          note: editNote(onLowdb),
        },
      );
      for (const [label, r] of [
        ['PostgreSQL', onPg],
        ['lowdb', onLowdb],
      ] as const) {
        checks.push({
          name: `${label}: every edit uploaded once, final content remote`,
          ok: r.missing === 0 && r.wrongContent === 0 && r.uploads === r.edits,
          detail: `${r.missing} missing, ${r.wrongContent} wrong, ${r.uploads} uploads for ${r.edits} edits${firstMissing(r)}`,
        });
      }

      // (c) Failover.
      ctx.log('failover: two daemons on one folder, the owner killed');
      const failover = await measureFailover({
        workDir: ctx.workDir,
        db: await createDatabase(cluster, 'bench_failover'),
        files: ctx.quick ? 200 : 1_000,
        seed: ctx.seed,
        log: ctx.log,
      });
      measurements.push({
        contender: FAILOVER,
        role: 'ours',
        metrics: {
          takeover_s: seconds(failover.takeoverMs),
          kill_to_upload_s: seconds(failover.killToUploadMs),
        },
        note: `two daemons (two state dirs, one database, one folder of ${failover.files} files); takeover = SIGKILL of the owner to the standby's "lease taken" log line; kill_to_upload = SIGKILL to the emulator's answer for a file written right after it`,
      });
      checks.push(
        {
          name: 'failover: the standby uploads a new edit <= 15 s after the owner is killed',
          ok: failover.killToUploadMs <= 15_000,
          detail: `${round(failover.killToUploadMs / 1000)} s`,
        },
        {
          name: 'failover: 0 duplicates, 0 orphans',
          ok: failover.duplicates === 0 && failover.orphans === 0,
          detail: `${failover.duplicates} duplicates, ${failover.orphans} orphans`,
        },
      );

      return {
        sizes: { entries, lookups, clients, tree_files: editOptions.treeFiles, edits: editOptions.edits },
        measurements,
        ratios: [
          ratioOf(measurements, SQL_LOOKUP, SQL_FLOOR, 'lookups_per_s', 'higher'),
          ratioOf(measurements, PG_LATENCY, LOWDB_LATENCY, 'p50_s', 'lower'),
          ratioOf(measurements, PG_LATENCY, LOWDB_LATENCY, 'p99_s', 'lower'),
        ],
        checks,
        notes: [
          'The cluster is private to the run (fsync off, like the tests): latency figures show the store, not a disk; a production server with fsync on adds its commit time to every batch.',
          'The lookup query is what a consumer on another host runs (README, "Several hosts"); the floor is the same connections doing nothing but a round trip.',
        ],
      };
    } finally {
      await cluster.stop();
    }
  },
};
