import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { LineSplitter, parseCsvLine, type Line } from './csv.js';

function splitAll(chunks: string[]): Line[] {
  const s = new LineSplitter();
  const out = chunks.flatMap((c) => s.push(c));
  return [...out, ...s.end()];
}

describe('LineSplitter', () => {
  test('numbers lines, strips \\r\\n and \\n, and marks an unterminated last line', () => {
    assert.deepEqual(splitAll(['a,b\r\nc', ',d\n', 'e']), [
      { number: 1, text: 'a,b', terminated: true },
      { number: 2, text: 'c,d', terminated: true },
      { number: 3, text: 'e', terminated: false },
    ]);
    assert.deepEqual(splitAll(['x\r', '\n']), [{ number: 1, text: 'x', terminated: true }]);
    assert.deepEqual(splitAll(['']), []);
  });

  test('any chunking gives the same lines', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', ',', '"', '\n', '\r\n', 'é'), { maxLength: 60 }), fc.array(fc.nat(60)), (parts, cuts) => {
        const text = parts.join('');
        const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const chunks: string[] = [];
        let from = 0;
        for (const p of points) {
          chunks.push(text.slice(from, p));
          from = p;
        }
        chunks.push(text.slice(from));
        assert.deepEqual(splitAll(chunks), splitAll([text]));
      }),
    );
  });
});

describe('parseCsvLine', () => {
  test('plain fields, empty fields and a trailing comma', () => {
    assert.deepEqual(parseCsvLine('010123106,MORNING STAR,,DC,'), { fields: ['010123106', 'MORNING STAR', '', 'DC', ''] });
    assert.deepEqual(parseCsvLine(''), { fields: [''] });
  });

  test('quoted fields keep commas, and "" is one quote', () => {
    assert.deepEqual(parseCsvLine('237244835,"CHRISTIAN SCIENCE SOCIETY,ALEA",,HI'), {
      fields: ['237244835', 'CHRISTIAN SCIENCE SOCIETY,ALEA', '', 'HI'],
    });
    assert.deepEqual(parseCsvLine('"say ""hi""",x,""'), { fields: ['say "hi"', 'x', ''] });
    assert.deepEqual(parseCsvLine('"a",'), { fields: ['a', ''] });
  });

  test('a quote inside an unquoted field is kept as text', () => {
    assert.deepEqual(parseCsvLine('12" RULER CLUB,x'), { fields: ['12" RULER CLUB', 'x'] });
  });

  test('an unterminated quote or text after a closing quote is an error naming the column', () => {
    const open = parseCsvLine('123456789,"BROKEN NAME,CITY,ST');
    assert.ok('error' in open);
    assert.match(open.error, /unterminated quote.*column 2/);
    const after = parseCsvLine('1,"A"B,C');
    assert.ok('error' in after);
    assert.match(after.error, /after the closing quote of column 2/);
  });

  test('round trip: fields written with RFC 4180 quoting parse back to themselves', () => {
    const field = fc.string({ unit: fc.constantFrom('a', 'B', ',', '"', ' ', '1') });
    fc.assert(
      fc.property(fc.array(field, { minLength: 1, maxLength: 8 }), (fields) => {
        const line = fields.map((f) => (/[",]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(',');
        assert.deepEqual(parseCsvLine(line), { fields });
      }),
    );
  });
});
