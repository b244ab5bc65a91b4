/**
 * Failover as an operator sees it: two daemons (two hosts' worth: own state dirs) share one
 * folder and one PostgreSQL database; the owner is SIGKILLed and a file is written at once. The
 * time until the standby uploads it is the gap in the mirror; the remote is then checked for
 * duplicates and for files no state records (orphans).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { writeCorpus } from '../corpus.js';
import { startDaemon, isReconcileDone, type DaemonLogLine, type RunningDaemon } from './daemon.js';
import { startBenchEmulator } from './emulator.js';
import { BenchError } from './errors.js';
import { FOLDER_NAME, productEnv, writeProductConfig } from './product.js';
import { smallFilesSpec } from './synced-tree.js';
import { clientConfig, type BenchDatabase } from './pg.js';

export interface FailoverResult {
  files: number;
  /** SIGKILL of the owner -> the standby's log line saying it took the folder. */
  takeoverMs: number;
  /** SIGKILL of the owner -> the emulator answered the upload of a file written right after it. */
  killToUploadMs: number;
  duplicates: number;
  orphans: number;
}

/** The standby's line: it holds no lease and waits. */
export function isStandbyLine(line: DaemonLogLine): boolean {
  return line.fields.event === 'lease-standby';
}

/** The line a daemon logs when it takes a folder's lease (first start or takeover). */
export function isLeaseTakenLine(line: DaemonLogLine): boolean {
  return line.fields.event === 'lease-acquired';
}

const PROBE = 'failover-probe.txt';

export async function measureFailover(o: {
  workDir: string;
  db: BenchDatabase;
  files: number;
  seed: number;
  log: (m: string) => void;
}): Promise<FailoverResult> {
  let probeSeenAt: number | undefined;
  const emulator = await startBenchEmulator({
    onUpload: (file, at) => {
      if (file.filename === PROBE) probeSeenAt ??= at;
    },
  });
  const daemons: RunningDaemon[] = [];
  try {
    const root = path.join(o.workDir, 'failover-tree');
    await writeCorpus(root, smallFilesSpec(o.seed ^ 0xfa11, o.files));
    const env = { ...productEnv(emulator.url), PGPASSWORD: o.db.password };
    const configFor = async (host: string) => {
      const dir = path.join(o.workDir, `failover-${host}`);
      await fs.mkdir(dir, { recursive: true });
      return writeProductConfig(dir, {
        baseUrl: emulator.url,
        folderPath: root,
        stateDir: path.join(dir, 'state'),
        concurrency: 4,
        debounceMs: 200,
        state: { backend: 'postgres', url: o.db.url },
      });
    };
    const owner = startDaemon(await configFor('a'), env);
    daemons.push(owner);
    await owner.waitForLog(isReconcileDone, 10 * 60_000, 'the owner synced the folder');
    if (emulator.core.stats().uploadsCreated !== o.files)
      throw new BenchError('the owner did not upload every file once', {
        uploads: emulator.core.stats().uploadsCreated,
        files: o.files,
      });
    const standby = startDaemon(await configFor('b'), env);
    daemons.push(standby);
    await standby.waitForLog(isStandbyLine, 5 * 60_000, 'the second daemon stands by');
    o.log('owner in sync, standby waiting; SIGKILL to the owner');

    const killedAt = performance.now();
    process.kill(owner.pid, 'SIGKILL');
    await fs.writeFile(path.join(root, PROBE), 'written right after the owner died\n');
    const taken = await standby.waitForLog(isLeaseTakenLine, 120_000, 'the standby took the folder');
    const deadline = performance.now() + 120_000;
    while (probeSeenAt === undefined && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    if (probeSeenAt === undefined)
      throw new BenchError('the standby never uploaded the file written after the kill', {});
    await standby.waitForLog(
      (l) => isReconcileDone(l) && l.at > taken.at,
      10 * 60_000,
      "the standby's reconciliation after the takeover",
    );

    const live = emulator.core.files();
    const distinct = new Set(live.map((f) => `${f.filename}\0${f.sizeBytes}\0${f.sha256}`));
    const recorded = await recordedIds(o.db);
    return {
      files: o.files,
      takeoverMs: taken.at - killedAt,
      killToUploadMs: probeSeenAt - killedAt,
      duplicates: live.length - distinct.size,
      orphans: live.filter((f) => !recorded.has(f.id)).length,
    };
  } finally {
    for (const d of daemons) await d.stop().catch(() => undefined);
    await emulator.close();
  }
}

/** Every file ID the folder's state records (entries, and IDs queued for deletion). */
async function recordedIds(db: BenchDatabase): Promise<Set<string>> {
  const client = new pg.Client(clientConfig(db));
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>(
      `SELECT file_id AS id FROM files_sync.entries WHERE folder = $1
       UNION SELECT file_id FROM files_sync.pending_deletes WHERE folder = $1`,
      [FOLDER_NAME],
    );
    return new Set(rows.map((r) => r.id));
  } finally {
    await client.end();
  }
}
