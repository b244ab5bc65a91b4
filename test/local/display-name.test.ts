import { describe, expect, it } from 'vitest';
import { displayPath, isValidUtf8Name, renderRawName } from '../../src/local/display-name.js';

describe('displayPath', () => {
  it.each([
    ['plain/name.txt', 'plain/name.txt'],
    ['caf\u00e9 \u{1F600}.md', 'caf\u00e9 \u{1F600}.md'],
    ['two\nlines.txt', 'two\\nlines.txt'],
    ['\u001b[31mred\u001b[0m.txt', '\\e[31mred\\e[0m.txt'],
    ['tab\there\rcr', 'tab\\there\\rcr'],
    ['nul\u0000bell\u0007del\u007f', 'nul\\x00bell\\x07del\\x7f'],
    ['c1\u009bcsi', 'c1\\x9bcsi'],
    ['bidi\u202egnp.exe', 'bidi\\u202egnp.exe'],
    ['sep\u2028line', 'sep\\u2028line'],
    ['back\\slash', 'back\\slash'],
  ])('renders %j as %j', (input, expected) => {
    expect(displayPath(input)).toBe(expected);
  });
});

describe('renderRawName', () => {
  it('escapes each undecodable byte, keeps decodable runs, escapes controls', () => {
    expect(renderRawName(Buffer.from([0x62, 0x61, 0x64, 0xff, 0x2e, 0x74, 0x78, 0x74]))).toBe('bad\\xff.txt');
    expect(
      renderRawName(Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from('\u00e9\n')])),
    ).toBe('caf\\xe9\u00e9\\n');
    // A truncated 3-byte sequence is two bad bytes, not one character.
    expect(renderRawName(Buffer.from([0x61, 0xe2, 0x82]))).toBe('a\\xe2\\x82');
  });

  it('keeps two names that differ only in their bad bytes apart', () => {
    const a = renderRawName(Buffer.from([0x78, 0xfe]));
    const b = renderRawName(Buffer.from([0x78, 0xff]));
    expect(a).not.toBe(b);
  });

  it('tells valid from invalid UTF-8 names', () => {
    expect(isValidUtf8Name(Buffer.from('caf\u00e9\uFFFD'))).toBe(true);
    expect(isValidUtf8Name(Buffer.from([0x63, 0xe9]))).toBe(false);
  });
});
