/** The hand-checked GA listing page: never accepts what the schema refuses, and reads what it accepts alike. */
import { describe, expect, it } from 'vitest';
import { readGaFilePage, toRemoteFile, WireGaFilePageSchema } from '../../src/api/wire.js';

const file = {
  id: 'file_011CNha8iCJcU1wXNR6q4V8w',
  type: 'file',
  filename: 'report.pdf',
  mime_type: 'application/pdf',
  size_bytes: 1024,
  created_at: '2026-12-03T10:00:00.000Z',
  downloadable: false,
  expires_at: null,
};

/** What the client made of a page before: the schema's parse, then toRemoteFile per file. */
function throughSchema(json: unknown) {
  const parsed = WireGaFilePageSchema.safeParse(json);
  return parsed.success
    ? { data: parsed.data.data.map(toRemoteFile), nextPage: parsed.data.next_page }
    : undefined;
}

const withFile = (changes: Record<string, unknown>, drop?: string): unknown => {
  const f: Record<string, unknown> = { ...file, ...changes };
  if (drop !== undefined) delete f[drop];
  return { data: [file, f], next_page: 'cursor-2' };
};

const accepted: Array<[string, unknown]> = [
  ['a typical page', { data: [file], next_page: 'cursor-2' }],
  ['the last page', { data: [file], next_page: null }],
  ['an empty page', { data: [], next_page: null }],
  ['no type', withFile({}, 'type')],
  ['no downloadable', withFile({}, 'downloadable')],
  ['no expires_at', withFile({}, 'expires_at')],
  ['an expiry', withFile({ expires_at: '2026-12-04T10:00:00Z' })],
  ['a size of 0', withFile({ size_bytes: 0 })],
  ['fields the schema does not know', withFile({ scope: { type: 'session', id: 's' }, extra: [1] })],
  ['a page with more fields', { data: [file], next_page: null, has_more: false, first_id: 'x' }],
];

const refused: Array<[string, unknown]> = [
  ['null', null],
  ['an array', [file]],
  ['no data', { next_page: null }],
  ['data not an array', { data: { 0: file }, next_page: null }],
  ['no next_page', { data: [file] }],
  ['an empty next_page', { data: [file], next_page: '' }],
  ['a numeric next_page', { data: [file], next_page: 2 }],
  ['a file that is null', { data: [file, null], next_page: null }],
  ['a file that is an array', { data: [[file]], next_page: null }],
  ['an empty id', withFile({ id: '' })],
  ['a numeric id', withFile({ id: 7 })],
  ['no id', withFile({}, 'id')],
  ['another type', withFile({ type: 'folder' })],
  ['no filename', withFile({}, 'filename')],
  ['a numeric mime_type', withFile({ mime_type: 1 })],
  ['a negative size', withFile({ size_bytes: -1 })],
  ['a fractional size', withFile({ size_bytes: 1.5 })],
  ['a size as text', withFile({ size_bytes: '1024' })],
  ['an unsafe size', withFile({ size_bytes: 2 ** 53 })],
  ['no created_at', withFile({}, 'created_at')],
  ['downloadable as text', withFile({ downloadable: 'yes' })],
  ['a numeric expires_at', withFile({ expires_at: 0 })],
];

describe('readGaFilePage', () => {
  it.each(accepted)('reads %s as the schema does', (_name, json) => {
    const expected = throughSchema(json);
    expect(expected).toBeDefined();
    expect(readGaFilePage(json)).toEqual(expected);
  });

  it.each(refused)('declines %s, which the schema then judges', (_name, json) => {
    expect(readGaFilePage(json)).toBeUndefined();
  });

  it('never accepts a page the schema refuses', () => {
    for (const [, json] of [...accepted, ...refused]) {
      if (throughSchema(json) === undefined) expect(readGaFilePage(json)).toBeUndefined();
    }
  });
});
