/** A streaming multipart/form-data parser for the emulator's upload route. */
import { MultipartError } from './errors.js';

/** Callbacks of the streaming parser, in order: begin, data*, end, for every part. */
export interface MultipartHandlers {
  /** Header names are lower-cased. */
  onPartBegin(headers: Map<string, string>): void;
  /** A slice of the part's body; valid after the call (never reused by the parser). */
  onPartData(chunk: Buffer): void;
  onPartEnd(): void;
}

/** Bounds that keep a hostile body from growing the parser's buffer. */
export interface MultipartLimits {
  /** Bytes of one part's header block; default 16 KiB. */
  maxHeaderBytes?: number;
  /** Parts in one body; default 100. */
  maxParts?: number;
}

type State = 'preamble' | 'after-delimiter' | 'headers' | 'body' | 'done';

const EMPTY = Buffer.alloc(0);
const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;
const MAX_TRANSPORT_PADDING = 256;

/**
 * Push parser for multipart/form-data (RFC 7578 / 2046). It never holds more than one chunk plus a
 * delimiter's length of body bytes, so a 500 MB upload streams through in constant memory; the
 * delimiter may be split across chunks at any byte.
 */
export class MultipartParser {
  private state: State = 'preamble';
  // The body is treated as if it began with CRLF, so the first boundary (which RFC 2046 allows at
  // the very start) is found by the same delimiter search as every later one.
  private pending: Buffer = Buffer.from(CRLF);
  private readonly delimiter: Buffer;
  private readonly maxHeaderBytes: number;
  private readonly maxParts: number;
  private parts = 0;

  constructor(
    boundary: string,
    private readonly handlers: MultipartHandlers,
    limits: MultipartLimits = {},
  ) {
    if (boundary.length < 1 || boundary.length > 70) {
      throw new MultipartError('multipart boundary must be 1-70 characters', {
        boundaryLength: boundary.length,
      });
    }
    this.delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
    this.maxHeaderBytes = limits.maxHeaderBytes ?? 16 * 1024;
    this.maxParts = limits.maxParts ?? 100;
  }

  /** True once the closing delimiter was seen (the epilogue is ignored). */
  get finished(): boolean {
    return this.state === 'done';
  }

  /** Number of parts begun so far. */
  get partCount(): number {
    return this.parts;
  }

  /** Feeds the next chunk of the body. Throws MultipartError on malformed input. */
  write(chunk: Buffer): void {
    if (this.state === 'done' || chunk.length === 0) return;
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    const pos = this.consume(buf);
    // Copy the (small) remainder so a big chunk is not kept alive by a tiny slice of it.
    this.pending = pos >= buf.length ? EMPTY : Buffer.from(buf.subarray(pos));
  }

  /** Signals the end of the body; throws if the closing delimiter never came. */
  end(): void {
    if (this.state !== 'done') {
      throw new MultipartError('multipart body ended before its closing boundary', { state: this.state });
    }
  }

  private consume(buf: Buffer): number {
    let pos = 0;
    for (;;) {
      switch (this.state) {
        case 'preamble':
        case 'body': {
          const idx = buf.indexOf(this.delimiter, pos);
          if (idx === -1) {
            // Hold back what could be the start of a delimiter split across chunks.
            const keep = Math.min(this.delimiter.length - 1, buf.length - pos);
            const emitEnd = buf.length - keep;
            if (this.state === 'body' && emitEnd > pos) this.handlers.onPartData(buf.subarray(pos, emitEnd));
            return emitEnd;
          }
          if (this.state === 'body') {
            if (idx > pos) this.handlers.onPartData(buf.subarray(pos, idx));
            this.handlers.onPartEnd();
          }
          pos = idx + this.delimiter.length;
          this.state = 'after-delimiter';
          break;
        }
        case 'after-delimiter': {
          if (buf.length - pos < 2) return pos;
          if (buf[pos] === DASH && buf[pos + 1] === DASH) {
            this.state = 'done';
            return buf.length;
          }
          let p = pos;
          while (p < buf.length && (buf[p] === 0x20 || buf[p] === 0x09)) p++;
          if (p - pos > MAX_TRANSPORT_PADDING)
            throw new MultipartError('too much padding after a multipart boundary');
          if (buf.length - p < 2) return pos;
          if (buf[p] !== CR || buf[p + 1] !== LF) {
            throw new MultipartError('multipart boundary is not followed by CRLF or "--"', { offset: p });
          }
          pos = p + 2;
          this.state = 'headers';
          break;
        }
        case 'headers': {
          // A part without headers: its blank line follows the boundary line directly.
          const idx =
            buf.length - pos >= 2 && buf[pos] === CR && buf[pos + 1] === LF
              ? pos - 2
              : buf.indexOf(HEADER_END, pos);
          if (idx === -1) {
            if (buf.length - pos > this.maxHeaderBytes)
              throw new MultipartError('multipart part headers too large');
            return pos;
          }
          if (idx - pos > this.maxHeaderBytes) throw new MultipartError('multipart part headers too large');
          const headers =
            idx > pos ? parseHeaderBlock(buf.toString('utf8', pos, idx)) : new Map<string, string>();
          this.parts++;
          if (this.parts > this.maxParts)
            throw new MultipartError('too many multipart parts', { maxParts: this.maxParts });
          this.state = 'body';
          pos = idx + HEADER_END.length;
          this.handlers.onPartBegin(headers);
          break;
        }
        case 'done':
          return buf.length;
      }
    }
  }
}

function parseHeaderBlock(text: string): Map<string, string> {
  const headers = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.split('\r\n')) {
    if (line.length === 0) continue;
    if ((line.startsWith(' ') || line.startsWith('\t')) && last !== undefined) {
      // Obsolete line folding: a continuation of the previous header.
      headers.set(last, `${headers.get(last) ?? ''} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new MultipartError('malformed multipart part header', { line: line.slice(0, 100) });
    last = line.slice(0, colon).trim().toLowerCase();
    headers.set(last, line.slice(colon + 1).trim());
  }
  return headers;
}

/** A header value split into its main value and its `; key=value` parameters (keys lower-cased). */
export interface HeaderWithParams {
  value: string;
  params: Map<string, string>;
}

/** Parses `type; a=b; c="quoted \"x\""` as used by Content-Type and Content-Disposition. */
export function parseHeaderParams(header: string): HeaderWithParams {
  const params = new Map<string, string>();
  let i = header.indexOf(';');
  const value = (i === -1 ? header : header.slice(0, i)).trim().toLowerCase();
  while (i !== -1 && i < header.length) {
    i++; // past ';'
    const eq = header.indexOf('=', i);
    const semi = header.indexOf(';', i);
    if (eq === -1 || (semi !== -1 && semi < eq)) {
      i = semi;
      continue;
    }
    const key = header.slice(i, eq).trim().toLowerCase();
    let j = eq + 1;
    while (header[j] === ' ' || header[j] === '\t') j++;
    let val = '';
    if (header[j] === '"') {
      j++;
      while (j < header.length && header[j] !== '"') {
        // WHATWG FormData never escapes backslashes (Windows paths arrive raw), only quotes.
        if (header[j] === '\\' && header[j + 1] === '"') j++;
        val += header[j];
        j++;
      }
      j++; // past closing quote
      i = header.indexOf(';', j);
    } else {
      const end = header.indexOf(';', j);
      val = (end === -1 ? header.slice(j) : header.slice(j, end)).trim();
      i = end;
    }
    if (key) params.set(key, val);
  }
  return { value, params };
}

/** The boundary of a `multipart/form-data` Content-Type, or null if it is not one. */
export function multipartBoundary(contentType: string | undefined): string | null {
  if (!contentType) return null;
  const { value, params } = parseHeaderParams(contentType);
  if (value !== 'multipart/form-data') return null;
  const boundary = params.get('boundary');
  return boundary && boundary.length <= 70 ? boundary : null;
}

/** The form field name and filename of a part's Content-Disposition (`filename*` preferred). */
export function formDataDisposition(header: string | undefined): { name?: string; filename?: string } {
  if (!header) return {};
  const { value, params } = parseHeaderParams(header);
  if (value !== 'form-data') return {};
  const out: { name?: string; filename?: string } = {};
  const name = params.get('name');
  if (name !== undefined) out.name = name;
  const extended = params.get('filename*');
  const decoded = extended !== undefined ? decodeExtendedValue(extended) : undefined;
  const filename = decoded ?? params.get('filename');
  if (filename !== undefined) out.filename = filename;
  return out;
}

// RFC 5987 ext-value: charset'language'percent-encoded
function decodeExtendedValue(v: string): string | undefined {
  const m = /^([^']*)'[^']*'(.*)$/.exec(v);
  if (!m) return undefined;
  const charset = (m[1] ?? '').toLowerCase();
  const encoded = m[2] ?? '';
  try {
    if (charset === 'utf-8') return decodeURIComponent(encoded);
    if (charset === 'iso-8859-1') {
      return encoded.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    }
  } catch {
    return undefined;
  }
  return undefined;
}
