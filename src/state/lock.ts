// The single-writer lock of a state dir: who holds it, and when a lock left behind is stale.
import { readFileSync, unlinkSync } from 'node:fs';
import { link, readFile, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createFileExclusive, tempPathFor, writeFileAtomic } from './atomic-write.js';
import { StateLockedError } from './errors.js';
import { isProcessAlive, processStartId } from './process.js';
import { ensureStateDir } from './state-dir.js';

/** Name of the lock file inside the state directory. */
export const LOCK_FILE_NAME = 'files-sync.lock';

/** Who holds a lock, as written in the lock file. */
export interface LockHolder {
  pid: number;
  hostname: string;
  startedAt: string;
  /**
   * Who the pid was when the lock was taken (processStartId): a pid alive now under another
   * identity was reused by an unrelated process after ours died (typically across a reboot), so
   * the lock is stale. Absent in locks from older versions and where /proc is not available.
   */
  processStart?: string | undefined;
}

/** A held state-directory lock. */
export interface StateLock {
  readonly file: string;
  readonly holder: LockHolder;
  /** Set when a stale lock was taken over: the dead holder's pid, or null if its lock file was unreadable. */
  readonly tookOverStaleFrom?: number | null;
  /** Removes the lock file if it is still ours; safe to call twice. */
  release(): Promise<void>;
}

/** A takeover guard older than this belongs to a process that died mid-takeover. */
const TAKEOVER_GUARD_STALE_MS = 10_000;
const MAX_ATTEMPTS = 20;
const CONTENTION_PAUSE_MS = 50;

/** Lock files this process holds: a lock naming our own pid is live only if it is in here. */
const heldByThisProcess = new Set<string>();

/**
 * Takes the single-writer lock of a state directory (created 0700 if missing). Throws
 * StateLockedError naming the holder when a live process (or one on another host) has it; takes
 * over a lock whose process is gone.
 */
export async function acquireLock(stateDir: string): Promise<StateLock> {
  await ensureStateDir(stateDir);
  const file = path.join(stateDir, LOCK_FILE_NAME);
  const holder: LockHolder = {
    pid: process.pid,
    hostname: os.hostname(),
    startedAt: new Date().toISOString(),
    processStart: processStartId(process.pid),
  };
  const content = `${JSON.stringify(holder)}\n`;

  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (await createExclusive(file, content)) return heldLock(file, holder, content, undefined);
    const existing = await readLockFile(file);
    if (existing === undefined) continue; // released between our attempt and the read
    if (existing.holder !== null && isLive(existing.holder, file)) throw lockedError(file, existing.holder);
    const outcome = await takeOver(file, existing.raw, content);
    if (outcome === 'taken') return heldLock(file, holder, content, existing.holder?.pid ?? null);
    if (outcome === 'busy') await pause(CONTENTION_PAUSE_MS);
  }
  throw new StateLockedError(`could not take the lock ${file}: other processes keep competing for it`, {
    lockFile: file,
  });
}

/** Reads who holds a state directory's lock without touching it; undefined when it is free. */
export async function readLockHolder(stateDir: string): Promise<LockHolder | null | undefined> {
  return (await readLockFile(path.join(stateDir, LOCK_FILE_NAME)))?.holder;
}

/**
 * Creates the lock file so that it never exists half-written: the content goes to a private temp
 * file first, then link(2) publishes it, and link fails with EEXIST exactly like O_EXCL would.
 * File systems without hard links fall back to a plain O_EXCL create.
 */
async function createExclusive(file: string, content: string): Promise<boolean> {
  const tmp = tempPathFor(file);
  await createFileExclusive(tmp, content);
  try {
    await link(tmp, file);
    return true;
  } catch (err) {
    const code = errorCode(err);
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  try {
    await createFileExclusive(file, content);
    return true;
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false;
    throw err;
  }
}

async function readLockFile(file: string): Promise<{ raw: string; holder: LockHolder | null } | undefined> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  return { raw, holder: parseHolder(raw) };
}

function parseHolder(raw: string): LockHolder | null {
  try {
    const v = JSON.parse(raw) as Partial<LockHolder> | null;
    if (v && Number.isInteger(v.pid) && typeof v.hostname === 'string' && typeof v.startedAt === 'string') {
      const processStart = typeof v.processStart === 'string' ? v.processStart : undefined;
      return { pid: v.pid!, hostname: v.hostname, startedAt: v.startedAt, processStart };
    }
  } catch {
    // An unparseable lock is treated as stale (it cannot come from a live holder: see createExclusive).
  }
  return null;
}

/**
 * Whether the holder may still be running. A lock from another host cannot be checked, so it
 * counts as live. Our own pid is live only if this process took the lock; otherwise it is a
 * previous incarnation (containers restart as the same pid). Another pid is live if it exists
 * and, when both start identities are known, is still the same process.
 */
function isLive(holder: LockHolder, file: string): boolean {
  if (holder.hostname !== os.hostname()) return true;
  if (holder.pid === process.pid) return heldByThisProcess.has(file);
  if (!isProcessAlive(holder.pid)) return false;
  if (holder.processStart === undefined) return true;
  const now = processStartId(holder.pid);
  return now === undefined ? isProcessAlive(holder.pid) : now === holder.processStart;
}

/**
 * Replaces a stale lock. A guard file serialises takers, and the stale content is re-checked
 * under the guard, so two processes that both saw the same stale lock cannot both end up holding it.
 * A guard left by a taker that died is removed after TAKEOVER_GUARD_STALE_MS.
 */
async function takeOver(
  file: string,
  staleRaw: string,
  content: string,
): Promise<'taken' | 'retry' | 'busy'> {
  const guard = `${file}.takeover`;
  try {
    await createFileExclusive(guard, `${process.pid}\n`);
  } catch (err) {
    if (errorCode(err) !== 'EEXIST') throw err;
    const age = await stat(guard).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > TAKEOVER_GUARD_STALE_MS) await unlink(guard).catch(() => undefined);
    return 'busy';
  }
  try {
    const current = await readLockFile(file);
    if (current === undefined) return 'retry';
    if (current.raw !== staleRaw) return 'retry';
    // Renamed over the stale lock, never unlinked first: a lock file that is briefly absent would
    // let a newcomer's exclusive create win beside us.
    await writeFileAtomic(file, content);
    return 'taken';
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

function heldLock(
  file: string,
  holder: LockHolder,
  content: string,
  staleFrom: number | null | undefined,
): StateLock {
  heldByThisProcess.add(file);
  let released = false;
  const stillOurs = (raw: string): boolean => raw === content;
  // Best effort on a normal exit; a crash leaves a stale lock that the next start takes over.
  const onExit = (): void => {
    try {
      if (stillOurs(readFileSync(file, 'utf8'))) unlinkSync(file);
    } catch {
      // nothing more we can do while exiting
    }
  };
  process.once('exit', onExit);
  const lock: StateLock = {
    file,
    holder,
    async release(): Promise<void> {
      if (released) return;
      released = true;
      process.off('exit', onExit);
      heldByThisProcess.delete(file);
      const current = await readLockFile(file);
      if (current !== undefined && stillOurs(current.raw)) {
        await unlink(file).catch((err: unknown) => {
          if (errorCode(err) !== 'ENOENT') throw err;
        });
      }
    },
  };
  return staleFrom === undefined ? lock : { ...lock, tookOverStaleFrom: staleFrom };
}

function lockedError(file: string, holder: LockHolder): StateLockedError {
  const where = holder.hostname === os.hostname() ? '' : ` on host ${holder.hostname}`;
  return new StateLockedError(
    `state directory is in use by pid ${holder.pid}${where} since ${holder.startedAt} (lock file ${file}); ` +
      `if no files-sync process is running there, delete the lock file`,
    { lockFile: file, holderPid: holder.pid, holderHost: holder.hostname, holderStartedAt: holder.startedAt },
  );
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
