import { describe, expect, it } from 'vitest';
import { normalizeUploadFilename } from '../../src/emulator/filename.js';

describe('normalizeUploadFilename', () => {
  it.each([
    ['report.pdf', 'report.pdf'],
    ['dir/sub/report.pdf', 'report.pdf'],
    ['C:\\Users\\me\\report.pdf', 'report.pdf'],
    ['mixed\\dir/last name.txt', 'last name.txt'],
    ['été.txt', 'été.txt'],
    ['x'.repeat(255), 'x'.repeat(255)],
    ['😀'.repeat(255), '😀'.repeat(255)],
  ])('accepts %j as %j', (raw, expected) => {
    expect(normalizeUploadFilename(raw)).toEqual({ ok: true, name: expected });
  });

  it.each([
    [''],
    ['dir/'],
    ['x'.repeat(256)],
    ['a<b'],
    ['a>b'],
    ['a:b'],
    ['a"b'],
    ['a|b'],
    ['a?b'],
    ['a*b'],
    ['tab\there'],
    ['nul\u0000'],
    ['del\u007f'],
    ['new\nline'],
  ])('refuses %j', (raw) => {
    const r = normalizeUploadFilename(raw);
    expect(r.ok).toBe(false);
  });
});
