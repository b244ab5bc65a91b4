/** Receives one multipart upload: streams the file part, hashes it, enforces limits. */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ContentWriter, DataDirectory } from './disk.js';
import { ApiErrorResponse, EmulatorError, MultipartError, invalidRequest } from './errors.js';
import { normalizeUploadFilename } from './filename.js';
import { formDataDisposition, MultipartParser, multipartBoundary, parseHeaderParams } from './multipart.js';

/** What a successfully received `file` part amounts to. */
export interface ReceivedUpload {
  id: string;
  filename: string;
  mimeType: string;
  sizeBytes: number;
  sha256: string;
  /** The optional `expires_in_seconds` form field, validated. */
  expiresInSeconds?: number | undefined;
}

/** The documented range of `expires_in_seconds`: one hour to ninety days. */
export const EXPIRES_IN_SECONDS_MIN = 3600;
export const EXPIRES_IN_SECONDS_MAX = 7_776_000;
const FIELD_MAX_BYTES = 64;

/** Settings for receiving one upload. */
export interface ReceiveOptions {
  maxUploadBytes: number;
  /** When set, the content is written to disk under the new ID. */
  disk: DataDirectory | null;
  newId(): string;
}

/** The request was abandoned by the client mid-body: there is nobody left to answer. */
export class ClientAbortedError extends EmulatorError {}

const DEFAULT_MIME = 'application/octet-stream';

/**
 * Streams a multipart upload: hashes the single `file` part as it arrives and writes it to disk
 * only with a data directory. Rejects with ApiErrorResponse (400/413) or ClientAbortedError.
 */
export function receiveUpload(req: IncomingMessage, options: ReceiveOptions): Promise<ReceivedUpload> {
  const boundary = multipartBoundary(req.headers['content-type']);
  if (boundary === null) {
    return Promise.reject(invalidRequest('Content-Type must be multipart/form-data with a boundary'));
  }
  // The client hung up while the request waited (injected latency): its 'close' has come and
  // gone, and a destroyed stream never ends. Like the real API, nothing is created.
  if (req.destroyed)
    return Promise.reject(
      new ClientAbortedError('client closed the connection before the upload was read', {}),
    );
  return new Promise<ReceivedUpload>((resolve, reject) => {
    const hash = createHash('sha256');
    let id: string | undefined;
    let filename = '';
    let mimeType = DEFAULT_MIME;
    let size = 0;
    let writer: ContentWriter | undefined;
    let settled = false;
    let part: 'file' | 'expires' = 'file';
    let expiresField: string | undefined;

    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
    };
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      cleanup();
      void writer?.abort();
      reject(err instanceof MultipartError ? invalidRequest(err.message) : err);
    };

    const parser = new MultipartParser(boundary, {
      onPartBegin(headers) {
        const disposition = formDataDisposition(headers.get('content-disposition'));
        if (disposition.name === 'expires_in_seconds') {
          if (expiresField !== undefined) throw invalidRequest('more than one expires_in_seconds field');
          part = 'expires';
          expiresField = '';
          return;
        }
        part = 'file';
        if (disposition.name !== 'file') {
          throw invalidRequest(
            `unexpected form field ${JSON.stringify(disposition.name ?? '')}: send exactly one part named "file"`,
          );
        }
        if (id !== undefined) throw invalidRequest('more than one part named "file"');
        if (disposition.filename === undefined) throw invalidRequest('the "file" part has no filename');
        const check = normalizeUploadFilename(disposition.filename);
        if (!check.ok) throw invalidRequest(`invalid filename: ${check.reason}`);
        filename = check.name;
        const contentType = headers.get('content-type');
        mimeType = (contentType ? parseHeaderParams(contentType).value : '') || DEFAULT_MIME;
        id = options.newId();
        if (options.disk) writer = options.disk.createContentWriter(id);
      },
      onPartData(chunk) {
        if (part === 'expires') {
          expiresField = (expiresField ?? '') + chunk.toString('utf8');
          if (expiresField.length > FIELD_MAX_BYTES) throw invalidRequest('expires_in_seconds is too long');
          return;
        }
        size += chunk.length;
        if (size > options.maxUploadBytes) {
          throw new ApiErrorResponse(
            413,
            'request_too_large',
            `file exceeds the maximum size of ${options.maxUploadBytes} bytes`,
          );
        }
        hash.update(chunk);
        writer?.stream.write(chunk);
      },
      onPartEnd() {},
    });

    const onData = (chunk: Buffer): void => {
      try {
        parser.write(chunk);
      } catch (err) {
        fail(err);
        return;
      }
      const stream = writer?.stream;
      if (stream?.writableNeedDrain) {
        req.pause();
        stream.once('drain', () => {
          if (!settled) req.resume();
        });
      }
    };
    const onEnd = (): void => {
      if (settled) return;
      try {
        parser.end();
      } catch (err) {
        fail(err);
        return;
      }
      if (id === undefined) {
        fail(invalidRequest('missing the "file" part'));
        return;
      }
      let expiresInSeconds: number | undefined;
      if (expiresField !== undefined) {
        const n = Number(expiresField.trim());
        if (!/^\d+$/.test(expiresField.trim()) || n < EXPIRES_IN_SECONDS_MIN || n > EXPIRES_IN_SECONDS_MAX) {
          fail(
            invalidRequest(
              `expires_in_seconds must be an integer from ${EXPIRES_IN_SECONDS_MIN} to ${EXPIRES_IN_SECONDS_MAX}`,
            ),
          );
          return;
        }
        expiresInSeconds = n;
      }
      const upload: ReceivedUpload = {
        id,
        filename,
        mimeType,
        sizeBytes: size,
        sha256: hash.digest('hex'),
        expiresInSeconds,
      };
      settled = true;
      cleanup();
      (writer ? writer.commit() : Promise.resolve()).then(
        () => resolve(upload),
        (err: unknown) => reject(err),
      );
    };
    const onClose = (): void => {
      if (!req.complete)
        fail(new ClientAbortedError('client closed the connection mid-upload', { fileId: id }));
    };

    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
  });
}
