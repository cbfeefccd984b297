// Recovers the source text of a number in a JSON body, so amounts such as "amount": 49.99 can be parsed exactly
// (see platform/money/decimal.ts) instead of through the double JSON.parse produced.
//
// The body has already passed JSON.parse, so this scanner only needs to find boundaries, not validate. It makes
// one pass: values off the path are skipped by bracket counting without building anything, and it recurses only
// along the requested path, so nesting depth in the body cannot exhaust the stack.

export type JsonPath = readonly (string | number)[];

const QUOTE = 0x22; // "
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;

interface Found {
  end: number;
  literal: string | undefined;
}

/**
 * The exact text of the number at `path` in `rawJson` (e.g. ['stakeholders', 0, 'weight'] -> "0.25"), or
 * undefined when nothing is there or the value is not a number. String steps match object keys after escape
 * decoding ("\u0061mount" is "amount"); number steps match array indices only, never an object key "0".
 * With duplicate keys the last one wins, as in JSON.parse.
 */
export function numberLiteralAt(rawJson: string | Buffer, path: JsonPath): string | undefined {
  const text = typeof rawJson === 'string' ? rawJson : rawJson.toString('utf8');
  // A UTF-8 byte-order mark is not JSON, but body parsers strip it before JSON.parse, so skip it here too.
  const start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  return find(text, start, path, 0).literal;
}

function find(text: string, at: number, path: JsonPath, depth: number): Found {
  let i = skipWhitespace(text, at);
  const c = text.charCodeAt(i);
  if (depth === path.length) {
    if (c === MINUS || isDigit(c)) {
      const end = skipScalar(text, i);
      return { end, literal: text.slice(i, end) };
    }
    return { end: skipValue(text, i), literal: undefined };
  }
  const step = path[depth];
  if (c === OPEN_BRACE && typeof step === 'string') {
    let literal: string | undefined;
    i = skipWhitespace(text, i + 1);
    if (text.charCodeAt(i) === CLOSE_BRACE) return { end: i + 1, literal };
    while (i < text.length) {
      const keyEnd = skipString(text, i);
      const matches = keyEquals(text, i, keyEnd, step);
      i = skipWhitespace(text, keyEnd);
      if (text.charCodeAt(i) !== COLON) break;
      if (matches) {
        // Each repeat of the key overwrites the earlier result, which is how JSON.parse treats duplicates.
        const inner = find(text, i + 1, path, depth + 1);
        literal = inner.literal;
        i = inner.end;
      } else {
        i = skipValue(text, skipWhitespace(text, i + 1));
      }
      i = skipWhitespace(text, i);
      if (text.charCodeAt(i) !== COMMA) return { end: i + 1, literal };
      i = skipWhitespace(text, i + 1);
    }
    return { end: text.length, literal };
  }
  if (c === OPEN_BRACKET && typeof step === 'number') {
    let literal: string | undefined;
    i = skipWhitespace(text, i + 1);
    if (text.charCodeAt(i) === CLOSE_BRACKET) return { end: i + 1, literal };
    for (let index = 0; i < text.length; index++) {
      if (index === step) {
        const inner = find(text, i, path, depth + 1);
        literal = inner.literal;
        i = inner.end;
      } else {
        i = skipValue(text, i);
      }
      i = skipWhitespace(text, i);
      if (text.charCodeAt(i) !== COMMA) return { end: i + 1, literal };
      i = skipWhitespace(text, i + 1);
    }
    return { end: text.length, literal };
  }
  return { end: skipValue(text, i), literal: undefined };
}

function keyEquals(text: string, start: number, end: number, want: string): boolean {
  const rawStart = start + 1;
  const rawEnd = end - 1;
  const escaped = text.indexOf('\\', rawStart);
  if (escaped === -1 || escaped >= rawEnd) {
    return rawEnd - rawStart === want.length && text.startsWith(want, rawStart);
  }
  // Escaped keys are rare; the key text is a valid JSON string, so JSON.parse decodes it exactly.
  return JSON.parse(text.slice(start, end)) === want;
}

/** Index just past the value starting at `i` (which is not whitespace). */
function skipValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return skipString(text, i);
  if (c !== OPEN_BRACE && c !== OPEN_BRACKET) return skipScalar(text, i);
  let depth = 0;
  while (i < text.length) {
    const d = text.charCodeAt(i);
    if (d === QUOTE) {
      i = skipString(text, i);
      continue;
    }
    if (d === OPEN_BRACE || d === OPEN_BRACKET) {
      depth++;
    } else if (d === CLOSE_BRACE || d === CLOSE_BRACKET) {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return text.length;
}

/** Index just past the string whose opening quote is at `i`. */
function skipString(text: string, i: number): number {
  let from = i + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote === -1) return text.length;
    // A quote is escaped when an odd number of backslashes precede it ("\\" ends in an escaped backslash).
    let backslashes = 0;
    for (let k = quote - 1; text.charCodeAt(k) === BACKSLASH; k--) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** Index just past a number, true, false or null. */
function skipScalar(text: string, i: number): number {
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET || isWhitespace(c)) break;
    i++;
  }
  return i;
}

function skipWhitespace(text: string, i: number): number {
  while (i < text.length && isWhitespace(text.charCodeAt(i))) i++;
  return i;
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
