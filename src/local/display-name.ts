// File names for people: control characters and undecodable bytes escaped; --json keeps names exact.
import { isUtf8 } from 'node:buffer';

/**
 * C0 controls, DEL, C1 controls (ESC sequences and their 8-bit forms reach the terminal), line and
 * paragraph separators, and the bidi overrides that make text display in another order than it
 * is stored ("Trojan Source").
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\e' };

/**
 * A path as one line of human output that cannot move the cursor, recolour the terminal or split
 * a line: `\n`, `\r`, `\t`, `\e` by name, other controls as `\xNN` / `\uNNNN`. Backslashes are
 * left alone (so Windows-style names read naturally); a name that needs to be exact belongs in
 * `--json`.
 */
export function displayPath(p: string): string {
  return p.replace(UNSAFE, (c) => {
    const named = NAMED[c];
    if (named !== undefined) return named;
    const code = c.codePointAt(0)!;
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** True when the raw bytes of a file name decode as UTF-8 (what the Files API and JSON need). */
export function isValidUtf8Name(name: Uint8Array): boolean {
  return isUtf8(name);
}

/**
 * Renders a name that is not valid UTF-8: the decodable runs as text, every other byte as `\xNN`
 * (so two names that differ only in their bad bytes stay two different renderings, where a lossy
 * decode would give both the same U+FFFD). Control characters are escaped as in displayPath.
 */
export function renderRawName(name: Uint8Array): string {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let out = '';
  let i = 0;
  while (i < name.length) {
    const len = utf8SequenceLength(name, i);
    if (len === 0) {
      out += `\\x${name[i]!.toString(16).padStart(2, '0')}`;
      i += 1;
    } else {
      out += decoder.decode(name.subarray(i, i + len));
      i += len;
    }
  }
  return displayPath(out);
}

/** Length of the well-formed UTF-8 sequence starting at `i`, or 0 if the byte there starts none. */
function utf8SequenceLength(b: Uint8Array, i: number): number {
  const first = b[i]!;
  const len =
    first < 0x80
      ? 1
      : first >= 0xc2 && first <= 0xdf
        ? 2
        : first >= 0xe0 && first <= 0xef
          ? 3
          : first >= 0xf0 && first <= 0xf4
            ? 4
            : 0;
  if (len === 0 || i + len > b.length) return 0;
  return isUtf8(b.subarray(i, i + len)) ? len : 0;
}
