// Include/exclude rules of a folder: which files sync, which directories a walk may skip.
import path from 'node:path';
import picomatch from 'picomatch';
import { FilesSyncError } from '../errors.js';

/** Decides which relative paths of a folder are synced, and which directories need not be walked. */
export interface PathFilter {
  /** True when the file at this relative POSIX path is synced. */
  matchesFile(relPath: string): boolean;
  /** False only when no file under this relative directory can be synced (so a walk may prune it). */
  mayContain(relDir: string): boolean;
}

export interface PathFilterOptions {
  /** Globs matched against the whole relative path; empty or absent = every file. */
  include?: string[];
  /** Globs matched against the whole relative path of files and directories; exclude wins over include. */
  exclude?: string[];
  /** Absolute folder root; with `stateDir`, lets the filter exclude a state directory inside the folder. */
  root?: string;
  /** Absolute state directory; excluded (literally, not as a glob) when it sits inside `root`. */
  stateDir?: string;
}

/** The filter options are unusable (for example the state directory is the folder itself). */
export class InvalidFilterError extends FilesSyncError {}

/**
 * Always excluded, in addition to the user's patterns. Deliberately short: a file we wrongly skip
 * is a file the user believes is backed up, so only names that are transient by construction
 * (editor swap/lock/auto-save files, OS metadata) are listed. Notably absent: `*.tmp`, `*.bak`,
 * `*.part` and `Thumbs.db`, because people keep real data under those names.
 */
export const DEFAULT_EXCLUDES: readonly string[] = [
  // Vim swap files: ".name.swp", then ".swo", ".swx" when the previous name is taken.
  '**/.*.swp',
  '**/.*.swo',
  '**/.*.swx',
  // Backup copies written by Emacs, gedit, vim (backupext) and many others: "name~".
  '**/*~',
  // Emacs lock files (dangling symlinks) ".#name" and auto-save files "#name#".
  '**/.#*',
  '**/#*#',
  // Kate swap files.
  '**/.*.kate-swp',
  // GNOME (gedit, GIO) atomic-save temp files, renamed over the target when complete.
  '**/.goutputstream-*',
  // LibreOffice lock files ".~lock.name#" and Microsoft Office owner files "~$name".
  '**/.~lock.*#',
  '**/~$*',
  // macOS Finder metadata.
  '**/.DS_Store',
];

const PICOMATCH_OPTIONS = { dot: true } as const;
/** Bounds the per-filter cache of directory verdicts (a folder has far fewer dirs than files). */
const DIR_CACHE_LIMIT = 50_000;

type Matcher = (p: string) => boolean;

/** Builds the include/exclude filter of one folder (picomatch globs, `dot: true`, plus DEFAULT_EXCLUDES). */
export function createPathFilter(options: PathFilterOptions = {}): PathFilter {
  const include = options.include ?? [];
  const isExcludedByPattern = compileAny([...DEFAULT_EXCLUDES, ...(options.exclude ?? [])]);
  const isIncludedByPattern = compileAny(include);
  // Where each include pattern can possibly match: the literal directory prefix before its first glob.
  const includeBases = include.map(literalBase);
  const stateDirRel = stateDirInside(options.root, options.stateDir);

  const excludedDirCache = new Map<string, boolean>();

  const matchesExclude = (p: string): boolean => {
    if (stateDirRel !== undefined && (p === stateDirRel || p.startsWith(stateDirRel + '/'))) return true;
    return isExcludedByPattern(p);
  };

  // A directory excluded by a pattern (".git", "node_modules/**") hides everything beneath it.
  const isDirExcluded = (dir: string): boolean => {
    const cached = excludedDirCache.get(dir);
    if (cached !== undefined) return cached;
    const parent = parentOf(dir);
    const verdict = (parent !== '' && isDirExcluded(parent)) || matchesExclude(dir);
    if (excludedDirCache.size >= DIR_CACHE_LIMIT) excludedDirCache.clear();
    excludedDirCache.set(dir, verdict);
    return verdict;
  };

  // An include pattern that names a directory ("docs") includes what is under it, as in most sync tools.
  const isIncluded = (file: string): boolean => {
    if (include.length === 0) return true;
    for (let p: string = file; p !== ''; p = parentOf(p)) {
      if (isIncludedByPattern(p)) return true;
    }
    return false;
  };

  return {
    matchesFile(relPath: string): boolean {
      if (matchesExclude(relPath)) return false;
      const parent = parentOf(relPath);
      if (parent !== '' && isDirExcluded(parent)) return false;
      return isIncluded(relPath);
    },
    mayContain(relDir: string): boolean {
      if (relDir === '') return true;
      if (isDirExcluded(relDir)) return false;
      if (include.length === 0) return true;
      return includeBases.some(
        (base) =>
          base === '' || base === relDir || base.startsWith(relDir + '/') || relDir.startsWith(base + '/'),
      );
    },
  };
}

/**
 * True when a path matches any of the patterns, as picomatch's matcher of each would say (the
 * literal pattern itself, or its regular expression), in one test: a scan asks for every file,
 * and a matcher per pattern made each file cost a dozen calls and result objects.
 */
export function compileAny(patterns: readonly string[]): Matcher {
  const literals = new Set(patterns);
  // `**/name-glob` (every default exclude) matches exactly when the last segment matches the
  // name glob: tested on that segment alone, since picomatch's `**/` prefix (a lazy walk with a
  // look-ahead at each character) made these few patterns a sixth of a 100k-file walk's time.
  const names: string[] = [];
  const namePatterns: string[] = [];
  const whole: string[] = [];
  for (const p of patterns) {
    const name = ANYWHERE_NAME.exec(p)?.[1];
    if (name === undefined) {
      whole.push(p);
    } else {
      names.push(name);
      namePatterns.push(p);
    }
  }
  const sourcesOf = (globs: string[]): string[] =>
    globs.map((g) => picomatch.makeRe(g, PICOMATCH_OPTIONS).source);
  const nameSources = sourcesOf(names);
  // picomatch's `**/` crosses a directory only if its name holds no line break (its `.`): a name
  // that matches is checked again on such a rare path whole, so it syncs as before the split.
  const nameWholeSources = sourcesOf(namePatterns);
  const wholeSources = sourcesOf(whole);
  // Joined sources renumber capture groups; picomatch emits no backreference, but never guess.
  const joined = [...nameSources, ...nameWholeSources, ...wholeSources];
  if (patterns.length === 0 || joined.some((src) => /\\[1-9]|\\k</.test(src))) {
    const each = patterns.map((p) => picomatch(p, PICOMATCH_OPTIONS));
    return (p) => each.some((m) => m(p));
  }
  const anyWhole = wholeSources.length > 0 ? new RegExp(wholeSources.join('|')) : undefined;
  let nameMatches: Matcher = () => false;
  if (names.length > 0) {
    const anyName = new RegExp(nameSources.join('|'));
    const anyNameWhole = new RegExp(nameWholeSources.join('|'));
    nameMatches = (p) =>
      anyName.test(p.slice(p.lastIndexOf('/') + 1)) && (!LINE_BREAK.test(p) || anyNameWhole.test(p));
  }
  return (p) =>
    p !== '' && (literals.has(p) || nameMatches(p) || (anyWhole !== undefined && anyWhole.test(p)));
}

/**
 * `**` + `/` + a glob of one path segment made of letters, digits, `.`, `_`, `-`, `~`, `#`, `$`,
 * spaces, non-ASCII characters, `*` and `?`: the names whose segment regex picomatch builds as
 * its whole-path regex has them (checked by a fuzz of 150,000 patterns). Left whole: `|` (an
 * alternation of the whole regex there), classes (`[[:digit:]]` leaves a `.` that crosses a `/`),
 * `**` within the name, and `$$` (picomatch's fast path escapes it as `\$$`).
 */
const ANYWHERE_NAME = /^\*\*\/((?:(?!\$\$|\*\*)[\w.~#*?$ \u00a0-\uffff-])+)$/;

/** What JavaScript's `.` does not match. */
const LINE_BREAK = /[\n\r\u2028\u2029]/;

/**
 * The directory part of a pattern that contains no glob syntax. Unknown (anything may match) for
 * negated patterns and escapes, where a literal comparison would wrongly prune.
 */
function literalBase(pattern: string): string {
  const scanned = picomatch.scan(pattern);
  if (scanned.negated || scanned.base.includes('\\')) return '';
  return scanned.base.replace(/^\.\//, '').replace(/\/+$/, '');
}

function parentOf(relPath: string): string {
  const i = relPath.lastIndexOf('/');
  return i < 0 ? '' : relPath.slice(0, i);
}

function stateDirInside(root: string | undefined, stateDir: string | undefined): string | undefined {
  if (root === undefined || stateDir === undefined) return undefined;
  const rel = path.relative(path.resolve(root), path.resolve(stateDir));
  if (rel === '') {
    throw new InvalidFilterError('the state directory must not be the synced folder itself', {
      root,
      stateDir,
    });
  }
  if (rel === '..' || rel.startsWith('..' + path.sep) || path.isAbsolute(rel)) return undefined;
  return rel.split(path.sep).join('/');
}
