import { describe, expect, it } from 'vitest';
import { MAX_REMOTE_NAME_LENGTH, remoteNameFor } from '../../src/api/filename.js';
import { bareMimeType, mimeTypeFor } from '../../src/api/mime.js';

describe('mimeTypeFor', () => {
  it.each([
    ['a.pdf', 'application/pdf'],
    ['notes.txt', 'text/plain'],
    ['README.md', 'text/markdown'],
    ['page.HTML', 'text/html'],
    ['data.csv', 'text/csv'],
    ['photo.jpeg', 'image/jpeg'],
    ['x.json', 'application/json'],
    ['archive.tar.gz', 'application/gzip'],
    ['Makefile', 'application/octet-stream'],
    ['.bashrc', 'application/octet-stream'],
    ['weird.unknownext', 'application/octet-stream'],
  ])('%s -> %s', (name, expected) => {
    expect(mimeTypeFor(name)).toBe(expected);
  });

  it('strips parameters', () => {
    expect(bareMimeType('Text/Plain; charset=utf-8')).toBe('text/plain');
    expect(bareMimeType(' ; x=y')).toBe('application/octet-stream');
  });
});

describe('remoteNameFor', () => {
  it.each([
    ['contracts/2026/acme.pdf', 'acme.pdf'],
    ['top.txt', 'top.txt'],
    ['a/b/we<ir>d:na"me|?*.txt', 'we_ir_d_na_me___.txt'],
    ['dir\\back\\slash.txt', 'slash.txt'],
    ['tab\there.txt', 'tab_here.txt'],
    ['line\nbreak\r.txt', 'line_break_.txt'],
    ['del\u007f.txt', 'del_.txt'],
    ['unicode/résumé 履歴.pdf', 'résumé 履歴.pdf'],
    ['', '_'],
    ['dir/', 'dir'],
    ['.', '_'],
    ['a/..', '__'],
  ])('%j -> %j', (input, expected) => {
    expect(remoteNameFor(input)).toBe(expected);
  });

  it('truncates to 255 keeping the extension', () => {
    const name = remoteNameFor(`x/${'a'.repeat(300)}.pdf`);
    expect(name).toHaveLength(MAX_REMOTE_NAME_LENGTH);
    expect(name.endsWith('a.pdf')).toBe(true);
  });

  it('keeps names of exactly 255', () => {
    const n = `${'b'.repeat(251)}.txt`;
    expect(remoteNameFor(n)).toBe(n);
  });

  it('cuts a long pseudo-extension as part of the name', () => {
    const name = remoteNameFor(`a.${'c'.repeat(300)}`);
    expect(name).toHaveLength(MAX_REMOTE_NAME_LENGTH);
    expect(name.startsWith('a.ccc')).toBe(true);
  });

  it('never splits a surrogate pair', () => {
    const name = remoteNameFor(`${'a'.repeat(250)}${'😀'.repeat(10)}.txt`);
    expect(name.length).toBeLessThanOrEqual(MAX_REMOTE_NAME_LENGTH);
    expect(name.endsWith('.txt')).toBe(true);
    expect(() => encodeURIComponent(name)).not.toThrow();
  });
});
