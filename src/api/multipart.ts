/** multipart/form-data bodies for uploads: the frame around the file part, and a streamed body built on it. */
import { randomBytes } from 'node:crypto';

/** A multipart/form-data body built around a stream, with its content type and (when known) length. */
export interface StreamedMultipart {
  contentType: string;
  contentLength: number | undefined;
  body: AsyncIterable<Uint8Array>;
}

/**
 * Boundaries: 96 random bits drawn once per process plus a counter. As unguessable for a file's
 * content as fresh random bytes per body, without a CSPRNG call per upload.
 */
const BOUNDARY_PREFIX = randomBytes(12).toString('hex');
let boundaryCount = 0;

/** Escapes a filename for a Content-Disposition header the way browsers and undici do. */
export function escapeDispositionName(name: string): string {
  return name.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');
}

/** The bytes around a file part: the text fields and the part's headers before it, the closing boundary after. */
export interface MultipartFrame {
  contentType: string;
  head: Buffer;
  tail: Buffer;
}

/**
 * The frame of a body whose only file part is `file`, after the small text `fields` (e.g.
 * expires_in_seconds): written once as two buffers, so a body costs two small writes, not a
 * form-data encoder per upload.
 */
export function multipartFrame(
  filename: string,
  mimeType: string,
  fields: readonly (readonly [string, string])[] = [],
): MultipartFrame {
  const boundary = `----files-sync-${BOUNDARY_PREFIX}${(boundaryCount++).toString(36)}`;
  let head = '';
  for (const [name, value] of fields) {
    head += `--${boundary}\r\nContent-Disposition: form-data; name="${escapeDispositionName(name)}"\r\n\r\n${value}\r\n`;
  }
  head +=
    `--${boundary}\r\n` +
    `Content-Disposition: form-data; name="file"; filename="${escapeDispositionName(filename)}"\r\n` +
    `Content-Type: ${mimeType}\r\n\r\n`;
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    head: Buffer.from(head, 'utf8'),
    tail: Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8'),
  };
}

/**
 * Wraps `source` as the part `file` of a multipart body without buffering it, after the small text
 * `fields`; `size`, when given, lets us send a Content-Length. `onFirstRead` fires once the source
 * starts being consumed.
 */
export function streamedMultipart(
  source: AsyncIterable<Uint8Array>,
  filename: string,
  mimeType: string,
  size: number | undefined,
  onFirstRead: () => void,
  onBytes: (n: number) => void,
  fields: readonly (readonly [string, string])[] = [],
): StreamedMultipart {
  const { contentType, head, tail } = multipartFrame(filename, mimeType, fields);
  async function* body(): AsyncGenerator<Uint8Array> {
    yield head;
    onFirstRead();
    for await (const chunk of source) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      onBytes(bytes.byteLength);
      yield bytes;
    }
    yield tail;
  }
  return {
    contentType,
    contentLength: size === undefined ? undefined : head.byteLength + size + tail.byteLength,
    body: body(),
  };
}
