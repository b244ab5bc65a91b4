/** The files-sync daemon (`run`) as a measured child: its JSON log lines, awaited by predicate. */
import { createInterface } from 'node:readline';
import { startNodeChild, type ChildRun } from './child.js';
import { BenchError } from './errors.js';
import { CLI_ENTRY, INSTALLED_CLI } from './product.js';

/** One parsed log line and when this process read it. */
export interface DaemonLogLine {
  at: number;
  msg: string;
  fields: Record<string, unknown>;
}

/** A daemon child being measured. */
export interface RunningDaemon {
  pid: number;
  startedAt: number;
  /** Resolves with the first log line (already seen or future) that matches. */
  waitForLog(
    match: (line: DaemonLogLine) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<DaemonLogLine>;
  /** The kept log lines (the last 20,000) that match, oldest first. */
  linesMatching(match: (line: DaemonLogLine) => boolean): DaemonLogLine[];
  /** SIGTERM (the daemon drains and flushes), SIGKILL if it takes longer than 60 s; the measured run. */
  stop(): Promise<ChildRun>;
  /** Resolves when the child exits for any reason. */
  exited: Promise<ChildRun>;
}

const KEEP_LINES = 20_000;

/**
 * Starts `files-sync run -c <config> ...extraArgs` under the usage probe: from src/ through tsx, or
 * with `installed` as users run it (bin/files-sync.cjs -> dist/, no tsx; buildDist() first).
 */
export function startDaemon(
  configPath: string,
  env: NodeJS.ProcessEnv,
  extraArgs: readonly string[] = [],
  options: { installed?: boolean } = {},
): RunningDaemon {
  const installed = options.installed === true;
  const started = startNodeChild(
    installed ? INSTALLED_CLI : CLI_ENTRY,
    ['run', '-c', configPath, ...extraArgs],
    {
      env,
      timeoutMs: 60 * 60_000,
      tsx: !installed,
    },
  );
  const { child } = started;
  if (child.pid === undefined) throw new BenchError('could not start the daemon', { configPath });
  const lines: DaemonLogLine[] = [];
  const waiters = new Set<{ match: (l: DaemonLogLine) => boolean; resolve: (l: DaemonLogLine) => void }>();
  let exitedRun: ChildRun | undefined;
  const exited = started.done.then((run) => {
    exitedRun = run;
    return run;
  });
  // Whoever awaits `exited` sees a failure; nobody awaiting must not crash the benchmark.
  exited.catch(() => undefined);

  createInterface({ input: child.stdout! }).on('line', (text) => {
    const at = performance.now();
    let fields: Record<string, unknown>;
    try {
      fields = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    const line: DaemonLogLine = { at, msg: typeof fields.msg === 'string' ? fields.msg : '', fields };
    lines.push(line);
    if (lines.length > KEEP_LINES) lines.splice(0, lines.length - KEEP_LINES);
    for (const w of [...waiters]) {
      if (w.match(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
    }
  });

  return {
    pid: child.pid,
    startedAt: started.startedAt,
    exited,
    waitForLog(match, timeoutMs, what) {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise<DaemonLogLine>((resolve, reject) => {
        const waiter = {
          match,
          resolve: (l: DaemonLogLine) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new BenchError(`daemon: no "${what}" within ${timeoutMs} ms`, {
              pid: child.pid,
              lastLines: lines.slice(-5).map((l) => l.msg),
            }),
          );
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then(
          (run) => {
            if (!waiters.has(waiter)) return;
            waiters.delete(waiter);
            clearTimeout(timer);
            reject(
              new BenchError(
                `daemon exited (${run.exitCode ?? run.signal}) before "${what}": ${run.stderr.slice(-1500)}`,
                { pid: child.pid },
              ),
            );
          },
          () => undefined,
        );
      });
    },
    linesMatching(match) {
      return lines.filter(match);
    },
    async stop() {
      if (exitedRun) return exitedRun;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      try {
        return await exited;
      } finally {
        clearTimeout(killer);
      }
    },
  };
}

/** True for the daemon's log line that ends a reconciliation pass. */
export function isReconcileDone(line: DaemonLogLine): boolean {
  return line.msg === 'reconciliation done';
}

/** True for the daemon's "started" line (logged once every folder's watcher is ready). */
export function isDaemonStarted(line: DaemonLogLine): boolean {
  return line.msg === 'files-sync daemon started';
}
