// Strings that look like credentials are never echoed back, whatever field they sit in.
const SECRET_LIKE = /sk-ant-|^[A-Za-z0-9_\-+/=]{32,}$/i;

/** True for strings that look like an API key or another credential. */
export function looksSecret(value: string): boolean {
  return SECRET_LIKE.test(value);
}

/** Quotes a user-supplied string for a message: shortened, and hidden if it looks like a secret. */
export function echoString(value: string): string {
  if (looksSecret(value)) return '(a value that looks like a secret; not shown)';
  const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
  return JSON.stringify(shown);
}
