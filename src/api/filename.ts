/** Longest filename the API accepts. */
export const MAX_REMOTE_NAME_LENGTH = 255;

// The API refuses these characters and every control character in a filename.
const FORBIDDEN = /[<>:"|?*\\/\u0000-\u001f\u007f]/g;

/**
 * The filename to upload a relative path under: its last component with forbidden and control
 * characters replaced by `_`, cut to 255 UTF-16 units keeping the extension, never empty.
 */
export function remoteNameFor(relPath: string): string {
  const parts = relPath.split(/[/\\]/).filter((p) => p !== '');
  const last = parts[parts.length - 1] ?? '';
  let name = last.replace(FORBIDDEN, '_');
  // "." and ".." are path syntax, not names; an empty input still needs some name.
  if (name === '' || name === '.' || name === '..') name = '_'.repeat(Math.max(1, name.length));
  return truncateKeepingExtension(name, MAX_REMOTE_NAME_LENGTH);
}

/** Shortens `name` to `max` UTF-16 units, keeping a short extension and never splitting a surrogate pair. */
export function truncateKeepingExtension(name: string, max: number): string {
  if (name.length <= max) return name;
  const dot = name.lastIndexOf('.');
  // An extension longer than a fifth of the budget is more likely part of the name than a type.
  const ext = dot > 0 && name.length - dot <= Math.floor(max / 5) ? name.slice(dot) : '';
  const stem = cutUtf16(name.slice(0, name.length - ext.length), max - ext.length);
  return stem + ext;
}

function cutUtf16(text: string, max: number): string {
  let cut = text.slice(0, max);
  const lastCode = cut.charCodeAt(cut.length - 1);
  if (lastCode >= 0xd800 && lastCode <= 0xdbff) cut = cut.slice(0, -1);
  return cut;
}
