/** Where and why a JSON text is malformed. */
export interface JsonSyntaxProblem {
  line: number;
  column: number;
  message: string;
  fix: string;
}

class SyntaxProblem extends Error {
  constructor(
    readonly offset: number,
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

/**
 * Finds the first syntax error of a JSON text, or null when it is valid JSON.
 * Exists because V8's JSON.parse message quotes the surrounding text (which may be a pasted API
 * key) and, for some errors, gives no position at all.
 */
export function findJsonSyntaxError(text: string): JsonSyntaxProblem | null {
  try {
    const scanner = new Scanner(text);
    scanner.document();
    return null;
  } catch (err) {
    if (!(err instanceof SyntaxProblem)) throw err;
    const { line, column } = lineColumn(text, err.offset);
    return { line, column, message: err.message, fix: err.fix };
  }
}

/** 1-based line and column of a UTF-16 offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

class Scanner {
  private pos = 0;
  constructor(private readonly text: string) {}

  document(): void {
    this.whitespace();
    if (this.pos >= this.text.length)
      throw new SyntaxProblem(
        this.pos,
        'the file is empty',
        'write a JSON object, or run `files-sync init --force`',
      );
    this.value();
    this.whitespace();
    if (this.pos < this.text.length) {
      throw new SyntaxProblem(
        this.pos,
        'unexpected text after the end of the JSON object',
        'remove it, or wrap everything in one { ... }',
      );
    }
  }

  private value(): void {
    this.whitespace();
    const ch = this.text[this.pos];
    if (ch === '{') return this.object();
    if (ch === '[') return this.array();
    if (ch === '"') return this.string();
    if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) return this.number();
    for (const literal of ['true', 'false', 'null']) {
      if (this.text.startsWith(literal, this.pos)) {
        this.pos += literal.length;
        return;
      }
    }
    throw this.unexpected('a value');
  }

  private object(): void {
    this.pos++; // {
    this.whitespace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return;
    }
    for (;;) {
      this.whitespace();
      if (this.text[this.pos] !== '"') {
        if (this.text[this.pos] === '}') {
          throw new SyntaxProblem(
            this.pos,
            'trailing comma before "}"',
            'remove the comma after the last property',
          );
        }
        throw this.unexpected('a property name in double quotes');
      }
      this.string();
      this.whitespace();
      if (this.text[this.pos] !== ':') throw this.unexpected('":" after the property name');
      this.pos++;
      this.value();
      this.whitespace();
      const next = this.text[this.pos];
      if (next === ',') {
        this.pos++;
        continue;
      }
      if (next === '}') {
        this.pos++;
        return;
      }
      throw this.unexpected('"," or "}" after a property value');
    }
  }

  private array(): void {
    this.pos++; // [
    this.whitespace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return;
    }
    for (;;) {
      this.whitespace();
      if (this.text[this.pos] === ']') {
        throw new SyntaxProblem(
          this.pos,
          'trailing comma before "]"',
          'remove the comma after the last element',
        );
      }
      this.value();
      this.whitespace();
      const next = this.text[this.pos];
      if (next === ',') {
        this.pos++;
        continue;
      }
      if (next === ']') {
        this.pos++;
        return;
      }
      throw this.unexpected('"," or "]" after an array element');
    }
  }

  private string(): void {
    const start = this.pos;
    this.pos++; // opening quote
    for (;;) {
      if (this.pos >= this.text.length) {
        throw new SyntaxProblem(start, 'string is never closed', 'add the closing double quote');
      }
      const code = this.text.charCodeAt(this.pos);
      if (code === 0x22) {
        this.pos++;
        return;
      }
      if (code < 0x20) {
        throw new SyntaxProblem(
          this.pos,
          'line break or control character inside a string',
          'close the string on the same line, or write \\n',
        );
      }
      if (code === 0x5c) {
        const escaped = this.text[this.pos + 1];
        if (escaped === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.pos + 2, this.pos + 6))) {
            throw new SyntaxProblem(
              this.pos,
              'invalid \\u escape in a string',
              'write \\u followed by 4 hex digits',
            );
          }
          this.pos += 6;
          continue;
        }
        if (escaped === undefined || !'"\\/bfnrt'.includes(escaped)) {
          throw new SyntaxProblem(
            this.pos,
            'invalid escape in a string',
            'write a backslash as \\\\ (e.g. "C:\\\\data")',
          );
        }
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
  }

  private number(): void {
    const match = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(
      this.text.slice(this.pos, this.pos + 400),
    );
    if (!match)
      throw new SyntaxProblem(
        this.pos,
        'malformed number',
        'write numbers like 4, 0.5 or 1e3, without leading zeros',
      );
    this.pos += match[0].length;
  }

  private whitespace(): void {
    while (this.pos < this.text.length && ' \t\n\r'.includes(this.text[this.pos] ?? '')) this.pos++;
  }

  // Describes what was found by its kind only: the text there may be a secret.
  private unexpected(expected: string): SyntaxProblem {
    const ch = this.text[this.pos];
    if (ch === undefined) {
      return new SyntaxProblem(
        this.pos,
        `unexpected end of file, expected ${expected}`,
        'close every "{" and "[" that is still open',
      );
    }
    if (ch === '/' && (this.text[this.pos + 1] === '/' || this.text[this.pos + 1] === '*')) {
      return new SyntaxProblem(
        this.pos,
        'comments are not allowed in JSON',
        'remove the comment (JSON has no comments; sync.config.schema.json documents every field)',
      );
    }
    if (ch === "'")
      return new SyntaxProblem(
        this.pos,
        `single quote found, expected ${expected}`,
        'use double quotes for strings and property names',
      );
    if (/[A-Za-z_$]/.test(ch)) {
      return new SyntaxProblem(
        this.pos,
        `unquoted text found, expected ${expected}`,
        'put strings and property names in double quotes',
      );
    }
    if (ch === '"' && expected.startsWith('","')) {
      return new SyntaxProblem(
        this.pos,
        `missing "," before this string`,
        'add a comma after the previous value',
      );
    }
    if (ch === ',')
      return new SyntaxProblem(this.pos, `extra "," found, expected ${expected}`, 'remove the extra comma');
    const shown = /[{}[\]:]/.test(ch) ? `"${ch}"` : 'an unexpected character';
    return new SyntaxProblem(
      this.pos,
      `${shown} found, expected ${expected}`,
      'check the punctuation just before this point',
    );
  }
}
