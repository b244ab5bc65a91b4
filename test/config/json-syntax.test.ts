import { describe, expect, it } from 'vitest';
import { findJsonSyntaxError, lineColumn } from '../../src/config/json-syntax.js';

describe('findJsonSyntaxError', () => {
  it.each([
    '{}',
    '[]',
    '{"a": [1, -2.5e+3, 0, true, false, null, "x\\"y\\u00e9\\n"], "b": {"c": {}}}',
    ' \n\t{ "a" : 1 }\r\n',
    '"just a string"',
  ])('accepts valid JSON %#', (text) => {
    expect(() => JSON.parse(text)).not.toThrow();
    expect(findJsonSyntaxError(text)).toBeNull();
  });

  it.each([
    { text: '{"a": 1,}', line: 1, column: 9, message: 'trailing comma before "}"' },
    { text: '[1, 2,]', line: 1, column: 7, message: 'trailing comma before "]"' },
    { text: '{"a": 01}', line: 1, column: 8, message: '"," or "}" after a property value' },
    { text: '{"a": 1 "b": 2}', line: 1, column: 9, message: 'missing ","' },
    { text: '{\n"a": "line\nbreak"}', line: 2, column: 11, message: 'line break or control character' },
    { text: '{"a": "open', line: 1, column: 7, message: 'string is never closed' },
    { text: '{"a": tru}', line: 1, column: 7, message: 'unquoted text' },
    { text: '{"a": 1} {}', line: 1, column: 10, message: 'unexpected text after the end' },
    { text: '{"a": "\\x"}', line: 1, column: 8, message: 'invalid escape' },
    { text: '{"a": "\\u12"}', line: 1, column: 8, message: 'invalid \\u escape' },
    { text: '{"a" 1}', line: 1, column: 6, message: '":" after the property name' },
    { text: '{"a": -}', line: 1, column: 7, message: 'malformed number' },
    { text: '/* c */ {}', line: 1, column: 1, message: 'comments are not allowed' },
    { text: '{"a": [1, 2}', line: 1, column: 12, message: '"}" found, expected "," or "]"' },
  ])('locates $message at $line:$column', ({ text, line, column, message }) => {
    expect(() => JSON.parse(text)).toThrow();
    const problem = findJsonSyntaxError(text);
    expect(problem).toMatchObject({ line, column });
    expect(problem?.message).toContain(message);
    expect(problem?.fix.length).toBeGreaterThan(0);
  });

  it('counts lines and columns from 1', () => {
    expect(lineColumn('ab\ncd', 0)).toEqual({ line: 1, column: 1 });
    expect(lineColumn('ab\ncd', 4)).toEqual({ line: 2, column: 2 });
  });
});
