/**
 * The CSV reading the directory import needs, as pure pieces: a splitter that turns decoded chunks
 * into numbered lines, and a parser for one line (RFC 4180 quoting).
 *
 * Records are lines. A quoted field may not span a line break: the IRS files never contain one, and
 * with that rule a stray quote costs its own row (reported with its line number) instead of
 * swallowing every row after it until the next quote somewhere down the file.
 */

export interface Line {
  /** 1-based line number in the file. */
  number: number;
  text: string;
  /** False for a last line the file ends without a line break (possibly cut short). */
  terminated: boolean;
}

/** Feeds decoded text in any chunking; yields complete lines. Handles \n and \r\n. */
export class LineSplitter {
  private rest = '';
  private count = 0;

  push(chunk: string): Line[] {
    const text = this.rest + chunk;
    const out: Line[] = [];
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      out.push({ number: ++this.count, text: text.slice(start, end), terminated: true });
      start = nl + 1;
    }
    this.rest = text.slice(start);
    return out;
  }

  /** The unterminated remainder, if the input did not end with a line break. */
  end(chunk = ''): Line[] {
    const out = chunk ? this.push(chunk) : [];
    if (this.rest !== '') {
      const text = this.rest.endsWith('\r') ? this.rest.slice(0, -1) : this.rest;
      out.push({ number: ++this.count, text, terminated: false });
      this.rest = '';
    }
    return out;
  }
}

export type ParsedLine = { fields: string[] } | { error: string };

/** Splits one line into fields. Quotes are only special at the start of a field. */
export function parseCsvLine(line: string): ParsedLine {
  if (!line.includes('"')) return { fields: line.split(',') };
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line.charCodeAt(i) === 34) {
      let value = '';
      let from = i + 1;
      for (;;) {
        const q = line.indexOf('"', from);
        if (q === -1) return { error: `unterminated quote: the field starting at column ${fields.length + 1} does not close on this line` };
        value += line.slice(from, q);
        if (line.charCodeAt(q + 1) === 34) {
          value += '"';
          from = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i === line.length) return { fields };
      if (line.charCodeAt(i) !== 44) {
        return { error: `unexpected text after the closing quote of column ${fields.length} (a quote inside a quoted field is written "")` };
      }
      i++;
    } else {
      const comma = line.indexOf(',', i);
      if (comma === -1) {
        fields.push(line.slice(i));
        return { fields };
      }
      fields.push(line.slice(i, comma));
      i = comma + 1;
    }
    // A trailing comma means one more, empty, field.
    if (i === line.length) {
      fields.push('');
      return { fields };
    }
  }
}
