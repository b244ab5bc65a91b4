import { FilesSyncError } from '../../src/errors.js';

/** A benchmark could not set up or check what it measures (the message says which). */
export class BenchError extends FilesSyncError {}
