import { describe, expect, it } from 'vitest';
import { MultipartError } from '../../src/emulator/errors.js';
import {
  formDataDisposition,
  MultipartParser,
  multipartBoundary,
  parseHeaderParams,
} from '../../src/emulator/multipart.js';

interface ParsedPart {
  headers: Record<string, string>;
  body: string;
}

const BOUNDARY = 'XyZ-b0undary';

/** Feeds `chunks` to a parser and returns every part as latin1 text. */
function parse(chunks: Buffer[], boundary = BOUNDARY): ParsedPart[] {
  const parts: ParsedPart[] = [];
  let current: { headers: Record<string, string>; data: Buffer[] } | undefined;
  const parser = new MultipartParser(boundary, {
    onPartBegin(headers) {
      expect(current).toBeUndefined();
      current = { headers: Object.fromEntries(headers), data: [] };
    },
    onPartData(chunk) {
      expect(current).toBeDefined();
      current?.data.push(Buffer.from(chunk));
    },
    onPartEnd() {
      if (!current) throw new Error('part end without begin');
      parts.push({ headers: current.headers, body: Buffer.concat(current.data).toString('latin1') });
      current = undefined;
    },
  });
  for (const c of chunks) parser.write(c);
  parser.end();
  return parts;
}

function body(text: string): Buffer {
  return Buffer.from(text.replace(/\n/g, '\r\n'), 'latin1');
}

// Content chosen to tempt a naive parser: CRLFs, dashes, and near-misses of the delimiter.
const TRICKY = 'line1\r\n--XyZ-b0undar\r\n--XyZ-b0undarX \r\n-- XyZ\r\r\n\n--';
const SAMPLE = Buffer.concat([
  Buffer.from('preamble to ignore\r\n'),
  Buffer.from(`--${BOUNDARY}\r\n`),
  Buffer.from(
    'Content-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n',
  ),
  Buffer.from(TRICKY, 'latin1'),
  Buffer.from(`\r\n--${BOUNDARY}\r\n`),
  Buffer.from('Content-Disposition: form-data; name="note"\r\n\r\n'),
  Buffer.from('second'),
  Buffer.from(`\r\n--${BOUNDARY}--\r\nepilogue to ignore`),
]);
const EXPECTED: ParsedPart[] = [
  {
    headers: {
      'content-disposition': 'form-data; name="file"; filename="a.txt"',
      'content-type': 'text/plain',
    },
    body: TRICKY,
  },
  { headers: { 'content-disposition': 'form-data; name="note"' }, body: 'second' },
];

describe('MultipartParser', () => {
  it('parses a body given in one chunk', () => {
    expect(parse([SAMPLE])).toEqual(EXPECTED);
  });

  it('gives the same parts when the body is split in two at every position', () => {
    for (let i = 0; i <= SAMPLE.length; i++) {
      expect(parse([SAMPLE.subarray(0, i), SAMPLE.subarray(i)]), `split at ${i}`).toEqual(EXPECTED);
    }
  });

  it('gives the same parts when split in three at many position pairs', () => {
    for (let i = 0; i <= SAMPLE.length; i += 3) {
      for (let j = i; j <= SAMPLE.length; j += 7) {
        expect(
          parse([SAMPLE.subarray(0, i), SAMPLE.subarray(i, j), SAMPLE.subarray(j)]),
          `split at ${i},${j}`,
        ).toEqual(EXPECTED);
      }
    }
  });

  it('gives the same parts when fed one byte at a time', () => {
    const bytes = [...SAMPLE].map((b) => Buffer.from([b]));
    expect(parse(bytes)).toEqual(EXPECTED);
  });

  it('accepts a body that starts directly with the boundary (no preamble)', () => {
    const b = body(
      `--${BOUNDARY}\nContent-Disposition: form-data; name="file"; filename="x"\n\nabc\n--${BOUNDARY}--`,
    );
    expect(parse([b])).toEqual([
      { headers: { 'content-disposition': 'form-data; name="file"; filename="x"' }, body: 'abc' },
    ]);
  });

  it('keeps content that ends in CRLF (the delimiter CRLF is not part of it)', () => {
    const b = body(
      `--${BOUNDARY}\nContent-Disposition: form-data; name="file"; filename="x"\n\nabc\n\n--${BOUNDARY}--\n`,
    );
    expect(parse([b])[0]?.body).toBe('abc\r\n');
  });

  it('handles an empty part body', () => {
    const b = body(
      `--${BOUNDARY}\nContent-Disposition: form-data; name="file"; filename="x"\n\n\n--${BOUNDARY}--`,
    );
    expect(parse([b])).toEqual([
      { headers: { 'content-disposition': 'form-data; name="file"; filename="x"' }, body: '' },
    ]);
  });

  it('handles a part without headers', () => {
    const b = body(`--${BOUNDARY}\n\nraw\n--${BOUNDARY}--`);
    expect(parse([b])).toEqual([{ headers: {}, body: 'raw' }]);
  });

  it('allows transport padding after a boundary', () => {
    const b = body(`--${BOUNDARY}  \t\nContent-Disposition: form-data; name="a"\n\n1\n--${BOUNDARY}--`);
    expect(parse([b])).toEqual([{ headers: { 'content-disposition': 'form-data; name="a"' }, body: '1' }]);
  });

  it('unfolds continuation header lines and lower-cases header names', () => {
    const b = body(`--${BOUNDARY}\nCONTENT-Disposition: form-data;\n name="a"\n\n1\n--${BOUNDARY}--`);
    expect(parse([b])[0]?.headers).toEqual({ 'content-disposition': 'form-data; name="a"' });
  });

  it('finds no part in a body that has only the closing delimiter', () => {
    expect(parse([body(`--${BOUNDARY}--\n`)])).toEqual([]);
  });

  it('throws when the closing delimiter never comes', () => {
    const b = body(`--${BOUNDARY}\nContent-Disposition: form-data; name="file"; filename="x"\n\nabc`);
    expect(() => parse([b])).toThrow(MultipartError);
  });

  it('throws when the boundary never appears', () => {
    expect(() => parse([Buffer.from('just some bytes, no multipart here')])).toThrow(MultipartError);
  });

  it('throws when a boundary line is followed by garbage', () => {
    expect(() => parse([body(`--${BOUNDARY}garbage\n\nabc\n--${BOUNDARY}--`)])).toThrow(MultipartError);
  });

  it('throws on a header line without a colon', () => {
    expect(() => parse([body(`--${BOUNDARY}\nno colon here\n\nabc\n--${BOUNDARY}--`)])).toThrow(
      MultipartError,
    );
  });

  it('refuses a header block over the limit even when it never ends', () => {
    const parser = new MultipartParser(
      BOUNDARY,
      { onPartBegin() {}, onPartData() {}, onPartEnd() {} },
      { maxHeaderBytes: 100 },
    );
    parser.write(body(`--${BOUNDARY}\nX-Long: `));
    expect(() => parser.write(Buffer.alloc(200, 0x61))).toThrow(MultipartError);
  });

  it('refuses more parts than the limit', () => {
    const many = Array.from(
      { length: 4 },
      (_, i) => `--${BOUNDARY}\nContent-Disposition: form-data; name="f${i}"\n\n${i}\n`,
    ).join('');
    const parser = new MultipartParser(
      BOUNDARY,
      { onPartBegin() {}, onPartData() {}, onPartEnd() {} },
      { maxParts: 3 },
    );
    expect(() => parser.write(body(`${many}--${BOUNDARY}--`))).toThrow(MultipartError);
  });

  it('streams a large part without buffering it (data arrives before the end)', () => {
    let received = 0;
    let endedEarly = false;
    const parser = new MultipartParser(BOUNDARY, {
      onPartBegin() {},
      onPartData(c) {
        received += c.length;
      },
      onPartEnd() {
        endedEarly = true;
      },
    });
    parser.write(body(`--${BOUNDARY}\nContent-Disposition: form-data; name="file"; filename="big"\n\n`));
    const chunk = Buffer.alloc(64 * 1024, 0x2d); // dashes: the worst case for a delimiter search
    for (let i = 0; i < 32; i++) parser.write(chunk);
    // Everything except at most a delimiter's length is already handed on.
    expect(received).toBeGreaterThan(32 * chunk.length - 100);
    expect(endedEarly).toBe(false);
    parser.write(Buffer.from(`\r\n--${BOUNDARY}--`));
    parser.end();
    expect(received).toBe(32 * chunk.length);
    expect(parser.finished).toBe(true);
  });

  it('rejects an empty or over-long boundary', () => {
    const h = { onPartBegin() {}, onPartData() {}, onPartEnd() {} };
    expect(() => new MultipartParser('', h)).toThrow(MultipartError);
    expect(() => new MultipartParser('b'.repeat(71), h)).toThrow(MultipartError);
  });
});

describe('header helpers', () => {
  it('parses parameters, quoted strings and escapes', () => {
    const p = parseHeaderParams('Form-Data; name="fi;le"; filename="a \\"b\\".txt"; x=plain');
    expect(p.value).toBe('form-data');
    expect(Object.fromEntries(p.params)).toEqual({ name: 'fi;le', filename: 'a "b".txt', x: 'plain' });
  });

  it('keeps backslashes that do not escape a quote (raw Windows paths)', () => {
    expect(parseHeaderParams('form-data; filename="C:\\tmp\\a.txt"').params.get('filename')).toBe(
      'C:\\tmp\\a.txt',
    );
  });

  it('finds the boundary of a multipart/form-data content type only', () => {
    expect(multipartBoundary('multipart/form-data; boundary=abc')).toBe('abc');
    expect(multipartBoundary('multipart/form-data; boundary="a b:c"')).toBe('a b:c');
    expect(multipartBoundary('multipart/form-data')).toBeNull();
    expect(multipartBoundary('application/json')).toBeNull();
    expect(multipartBoundary(undefined)).toBeNull();
  });

  it('reads name and filename, preferring filename*', () => {
    expect(formDataDisposition('form-data; name="file"; filename="a.txt"')).toEqual({
      name: 'file',
      filename: 'a.txt',
    });
    expect(
      formDataDisposition(`form-data; name="file"; filename="fallback"; filename*=UTF-8''%C3%A9t%C3%A9.txt`),
    ).toEqual({
      name: 'file',
      filename: 'été.txt',
    });
    expect(formDataDisposition('form-data; name="note"')).toEqual({ name: 'note' });
    expect(formDataDisposition('attachment; filename="a"')).toEqual({});
    expect(formDataDisposition(undefined)).toEqual({});
  });
});
