/** The process logger: pino JSON lines, secrets redacted, syslog priority prefixes when stdout is the journal. */
import { fstatSync } from 'node:fs';
import { createRequire } from 'node:module';
import pino, { type Logger, type LevelWithSilent, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino censors wherever they appear. Children inherit this list because no child gets a
 * `redact` of its own (a child's own list would replace the parent's).
 */
export const REDACT_PATHS = [
  'apiKey',
  '*.apiKey',
  'headers["x-api-key"]',
  'headers.authorization',
  '*.headers["x-api-key"]',
  '*.headers.authorization',
  'config.api.key',
];

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Where JSON lines go; stdout when omitted. */
  destination?: DestinationStream;
  /** Pretty output; default: only when stdout is a TTY and pino-pretty is installed. */
  pretty?: boolean;
  /**
   * Secret strings to scrub from messages as a last line of defence. Read at each log call, so a
   * key resolved after the logger was made (from a key file) is covered once pushed here.
   */
  secrets?: readonly string[];
  /**
   * Prefix each line with its syslog priority ("<4>{...}") so that journald stores the level
   * and `journalctl -p warning` works. Default: when fd `journalFd` (1) is the journal stream.
   */
  journal?: boolean;
  /** The descriptor the lines end up on, to compare with $JOURNAL_STREAM (default 1, stdout). */
  journalFd?: number;
}

/** syslog priorities by pino level: err, warning, info, debug (fatal is logged as err, like most daemons). */
const PRIORITY: Record<string, string> = {
  fatal: '<3>',
  error: '<3>',
  warn: '<4>',
  info: '<6>',
  debug: '<7>',
  trace: '<7>',
};

/**
 * True when `fd` is the stream systemd connected to the journal: $JOURNAL_STREAM is "dev:inode"
 * of that stream (systemd.exec(5)). Comparing the inode, not just testing the variable, keeps
 * the output plain when a child of a service redirects its output to a file or a pipe.
 */
export function isJournalStream(fd: number, env: NodeJS.ProcessEnv = process.env): boolean {
  const want = env.JOURNAL_STREAM;
  if (!want) return false;
  try {
    // bigint: inode numbers may exceed 2^53.
    const st = fstatSync(fd, { bigint: true });
    return want === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

/** The syslog priority prefix of one JSON line whose first field is the level label (our formatter). */
export function journalPrefix(line: string): string {
  const match = /^\{"level":"(\w+)"/.exec(line);
  return (match && PRIORITY[match[1]!]) ?? '<6>';
}

function prettyAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/** Creates the root logger: JSON lines on stdout (journald-friendly), secrets redacted. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const secretList = options.secrets ?? [];
  const wantPretty = options.pretty ?? (process.stdout.isTTY === true && options.destination === undefined);
  const journal = options.journal ?? isJournalStream(options.journalFd ?? 1);
  const base: pino.LoggerOptions = {
    level: options.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    hooks: {
      // Scrub any secret that slipped into a message string (e.g. an error echoing a header).
      logMethod(args, method) {
        const secrets = secretList.filter((x) => x.length >= 8);
        if (secrets.length > 0) {
          for (let i = 0; i < args.length; i++) {
            const a = args[i];
            if (typeof a === 'string') args[i] = scrub(a, secrets);
          }
        }
        method.apply(this, args);
      },
      ...(journal ? { streamWrite: (line: string) => journalPrefix(line) + line } : {}),
    },
  };
  if (wantPretty && !journal && prettyAvailable()) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  return pino(base, options.destination ?? pino.destination({ dest: 1, sync: false }));
}

/** Replaces every occurrence of each secret in `text` with a marker. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('[redacted]');
  return out;
}

/**
 * Changes a running logger's level (SIGHUP applies log.level this way). Children made with
 * `child()` follow: they inherit the level through their prototype unless given their own. The
 * change is logged at whichever of the two levels shows it.
 */
export function applyLogLevel(logger: Logger, level: LevelWithSilent): void {
  const from = logger.level;
  const say = () => logger.info({ from, to: level }, 'log level changed');
  const shownBefore = logger.isLevelEnabled('info');
  if (shownBefore) say();
  logger.level = level;
  if (!shownBefore && logger.isLevelEnabled('info')) say();
}

/** A logger that discards everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
