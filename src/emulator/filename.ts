/** Result of checking an upload's filename against the API's rules. */
export type FilenameCheck = { ok: true; name: string } | { ok: false; reason: string };

const FORBIDDEN = /[<>:"|?*\\/]/;

const CONTROL = /[\u0000-\u001f\u007f]/;

/** Keeps the last path component (split on / and \) and applies the API's name rules. */
export function normalizeUploadFilename(raw: string): FilenameCheck {
  const parts = raw.split(/[/\\]/);
  const name = parts[parts.length - 1] ?? '';
  const length = [...name].length;
  if (length < 1) return { ok: false, reason: 'filename must not be empty' };
  if (length > 255) return { ok: false, reason: 'filename must be at most 255 characters' };
  if (FORBIDDEN.test(name)) return { ok: false, reason: 'filename must not contain < > : " | ? * \\ /' };
  if (CONTROL.test(name)) return { ok: false, reason: 'filename must not contain control characters' };
  return { ok: true, name };
}
