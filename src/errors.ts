/** Base of every error files-sync raises on purpose; `context` carries what a reader needs to act. */
export class FilesSyncError extends Error {
  readonly context: Record<string, unknown>;
  constructor(message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.context = context;
  }
}
