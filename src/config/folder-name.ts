/** The folder-name rule, apart from the schema so that zod-free readers (the `id` fast path) can apply it. */

/** Folder names become manifest file names and log fields: keep them to a safe, short alphabet. */
export const FOLDER_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
