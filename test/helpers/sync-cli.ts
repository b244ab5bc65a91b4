/** `files-sync sync --json` as a child process, with its report parsed: shared by the e2e and reliability tests. */
import { runCli, type Project } from './project.js';

/** The parts of one folder's `sync --json` report these tests read. */
export interface SyncReport {
  folder: string;
  status: string;
  uploaded: number;
  replaced: number;
  deleted: number;
  moved: number;
  hashed: number;
  unchanged: number;
  heldDeletes: number;
  heldReason?: string;
  unmanagedRemote: number;
  localFiles: number;
  skipped: Array<{ path: string; reason: string; detail?: string }>;
  failed: Array<{ path: string; kind: string; error: string; httpStatus?: number }>;
  error?: string;
}

export interface SyncRun {
  code: number | null;
  reports: SyncReport[];
  stdout: string;
  stderr: string;
}

/** Runs `files-sync sync --json` to completion and parses its report. */
export async function syncJson(
  p: Pick<Project, 'configPath' | 'env'>,
  args: string[] = [],
  timeoutMs = 300_000,
): Promise<SyncRun> {
  const r = await runCli(['sync', '-c', p.configPath, '--json', ...args], { env: p.env, timeoutMs });
  let reports: SyncReport[];
  try {
    reports = JSON.parse(r.stdout) as SyncReport[];
  } catch {
    throw new Error(
      `sync did not print JSON (exit ${r.code})\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(-4000)}`,
    );
  }
  return { code: r.code, reports, stdout: r.stdout, stderr: r.stderr };
}
