/** Checks one include/exclude glob and phrases its problem for a person. */
import picomatch from 'picomatch';
import { echoString } from './echo.js';

/** A problem with one include/exclude pattern, phrased for a person. */
export interface GlobProblem {
  message: string;
  fix: string;
}

/** Checks one include/exclude pattern; returns the problem or null when the pattern is usable. */
export function checkGlob(pattern: string): GlobProblem | null {
  if (pattern.trim() === '') return { message: 'empty glob pattern', fix: 'remove the empty pattern' };
  if (pattern.startsWith('/')) {
    return {
      message: 'glob patterns are relative to the folder root and must not start with "/"',
      fix: `drop the leading "/" (e.g. ${echoString(pattern.replace(/^\/+/, '') || '**')})`,
    };
  }
  if (pattern.startsWith('!')) {
    // Negation inside a list is easy to get backwards; the include/exclude split says it plainly.
    return {
      message: 'negated glob patterns ("!...") are not supported',
      fix: `put ${echoString(pattern.slice(1))} in the other list (exclude wins over include)`,
    };
  }
  if (pattern.split('/').includes('..')) {
    return {
      message: 'glob patterns cannot reach outside the folder ("..")',
      fix: 'remove the ".." segment',
    };
  }
  try {
    picomatch.makeRe(pattern, { dot: true, strictBrackets: true });
  } catch (err) {
    const detail = err instanceof Error ? err.message.replace(/ - use .*$/, '') : 'unparseable';
    return {
      message: `invalid glob pattern: ${detail}`,
      fix: 'close the bracket/brace/parenthesis, or escape it with "\\\\" to match it literally',
    };
  }
  return null;
}
