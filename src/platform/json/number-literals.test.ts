import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type JsonPath, numberLiteralAt } from './number-literals.js';

test('finds the literal text of numbers at object and array paths', () => {
  const body = '{"amount": 49.99, "currency":"USD", "stakeholders":[{"weight":0.25},{"weight":1E2}]}';
  assert.equal(numberLiteralAt(body, ['amount']), '49.99');
  assert.equal(numberLiteralAt(body, ['stakeholders', 0, 'weight']), '0.25');
  assert.equal(numberLiteralAt(body, ['stakeholders', 1, 'weight']), '1E2');
  assert.equal(numberLiteralAt('-0.50', []), '-0.50');
  assert.equal(numberLiteralAt('[1,[2,[3.000]]]', [1, 1, 0]), '3.000');
});

test('keeps the digits a double would lose', () => {
  const body = '{"amount":0.1000000000000000055511151231257827,"big":12345678901234567890.01}';
  assert.equal(numberLiteralAt(body, ['amount']), '0.1000000000000000055511151231257827');
  assert.equal(numberLiteralAt(body, ['big']), '12345678901234567890.01');
});

test('absent paths and non-numbers give undefined', () => {
  const body = '{"a":"49.99","b":null,"c":true,"d":{"e":1},"f":[1,2],"g":[],"h":{}}';
  for (const path of [['a'], ['b'], ['c'], ['d'], ['f'], ['x'], ['d', 'x'], ['f', 2], ['f', -1], ['f', 0.5],
    ['g', 0], ['h', 'a'], ['a', 0], ['d', 'e', 'x'], [0]] as JsonPath[]) {
    assert.equal(numberLiteralAt(body, path), undefined, JSON.stringify(path));
  }
  assert.equal(numberLiteralAt(body, ['d', 'e']), '1');
  assert.equal(numberLiteralAt(body, ['f', 1]), '2');
});

test('number steps index arrays only and string steps name keys only', () => {
  assert.equal(numberLiteralAt('{"0":5}', [0]), undefined);
  assert.equal(numberLiteralAt('{"0":5}', ['0']), '5');
  assert.equal(numberLiteralAt('[5]', ['0']), undefined);
});

test('strings with quotes, backslashes, brackets and digits do not confuse the scan', () => {
  const body = String.raw`{"note":"\"amount\": 1, ] } [ {","x\\":"\\","amount\"":7,`
    + String.raw`"nested":{"s":"}}]]\\\""},"amount":2.5}`;
  assert.deepEqual(JSON.parse(body).amount, 2.5);
  assert.equal(numberLiteralAt(body, ['amount']), '2.5');
  assert.equal(numberLiteralAt(body, ['amount"']), '7');
  assert.equal(numberLiteralAt(body, ['x\\']), undefined);
});

test('keys are compared after decoding escapes', () => {
  const body = String.raw`{"\u0061mount": 12.30, "a\u00e9":1, "\ud83d\ude00":2, "t\tb":3, "s\/":4}`;
  assert.equal(numberLiteralAt(body, ['amount']), '12.30');
  assert.equal(numberLiteralAt(body, ['aé']), '1');
  assert.equal(numberLiteralAt(body, ['😀']), '2');
  assert.equal(numberLiteralAt(body, ['t\tb']), '3');
  assert.equal(numberLiteralAt(body, ['s/']), '4');
  assert.equal(numberLiteralAt(body, ['\\u0061mount']), undefined);
});

test('with duplicate keys the last one wins, as in JSON.parse', () => {
  assert.equal(numberLiteralAt('{"amount":1,"amount":2}', ['amount']), '2');
  assert.equal(numberLiteralAt('{"amount":1,"\\u0061mount":"x"}', ['amount']), undefined);
  assert.equal(numberLiteralAt('{"amount":"x","amount":3.0}', ['amount']), '3.0');
  const nested = '{"s":[{"w":1}],"s":[{"v":2}]}';
  assert.equal(JSON.parse(nested).s[0].w, undefined);
  assert.equal(numberLiteralAt(nested, ['s', 0, 'w']), undefined);
  assert.equal(numberLiteralAt(nested, ['s', 0, 'v']), '2');
  assert.equal(numberLiteralAt('{"__proto__":4,"__proto__":5}', ['__proto__']), '5');
});

test('whitespace of every JSON kind and a leading byte-order mark are skipped', () => {
  const body = '\ufeff \r\n\t{ "a" :\n\t[ 1 ,\r\n 2.50 ] \n}\n';
  assert.equal(numberLiteralAt(body, ['a', 1]), '2.50');
});

test('a Buffer body is read as UTF-8', () => {
  const body = Buffer.from('{"naïve":"ü\\"","amount":49.99}', 'utf8');
  assert.equal(numberLiteralAt(body, ['amount']), '49.99');
  assert.equal(numberLiteralAt(body, ['naïve']), undefined);
});

test('deep nesting off the path does not exhaust the stack', () => {
  const deep = `{"skip":${'['.repeat(200_000)}${']'.repeat(200_000)},"amount":1}`;
  assert.equal(numberLiteralAt(deep, ['amount']), '1');
});

test('a megabyte body is scanned quickly', () => {
  const items = Array.from({ length: 20_000 }, (_, i) => ({ id: `item_${i}`, note: 'a "quoted" [x]', n: i / 7 }));
  const body = JSON.stringify({ items, amount: 49.99 });
  assert.ok(body.length > 1_000_000);
  const started = process.hrtime.bigint();
  assert.equal(numberLiteralAt(body, ['amount']), '49.99');
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  assert.ok(elapsedMs < 200, `took ${elapsedMs} ms`);
});

// Every path in a parsed value, paired with the value found there.
function* pathsOf(value: unknown, path: (string | number)[] = []): Generator<[JsonPath, unknown]> {
  yield [path, value];
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* pathsOf(value[i], [...path, i]);
  } else if (value !== null && typeof value === 'object') {
    for (const key of Object.keys(value)) yield* pathsOf((value as Record<string, unknown>)[key], [...path, key]);
  }
}

function assertAgreesWithJsonParse(text: string): void {
  const parsed: unknown = JSON.parse(text);
  for (const [path, value] of pathsOf(parsed)) {
    const literal = numberLiteralAt(text, path);
    if (typeof value === 'number') {
      assert.ok(literal !== undefined, `no literal at ${JSON.stringify(path)} in ${text}`);
      assert.equal(Number(literal), value, `${JSON.stringify(path)} in ${text}`);
    } else {
      assert.equal(literal, undefined, `${JSON.stringify(path)} in ${text}`);
    }
    assert.equal(numberLiteralAt(text, [...path, 'absent \u0000 key']), undefined);
  }
}

test('property: literals of JSON.stringify output agree with JSON.parse', () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.constantFrom(undefined, 2, '\t'), (value, indent) => {
      assertAgreesWithJsonParse(JSON.stringify(value, null, indent));
    }),
  );
});

test('property: literals of fc.json() texts agree with JSON.parse', () => {
  fc.assert(fc.property(fc.json(), (text) => assertAgreesWithJsonParse(text)));
});

// A JSON tree whose objects are entry lists, so duplicate keys can be written on purpose.
type Tree = null | boolean | number | string | Tree[] | { entries: [string, Tree][] };

const trickyText = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom('amount', '"', '\\', '\\"', '"]}', '{"a":1}', '12.5', '\u2028', '😀', '__proto__', ''),
);

const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    trickyText,
    fc.array(tie('tree'), { maxLength: 4 }),
    fc.record({
      // A small key alphabet makes repeated keys common.
      entries: fc.array(fc.tuple(fc.oneof(fc.constantFrom('a', 'b', 'amount'), trickyText), tie('tree')),
        { maxLength: 5 }),
    }),
  ),
}));

// Writes a tree with varied whitespace, \u-escaped key characters and alternative number spellings, each
// choice drawn from `choices` so the output is reproducible for a failing seed.
function render(node: Tree, choices: () => number): string {
  const ws = () => ['', ' ', '\n  ', '\t', '\r\n'][choices() % 5]!;
  if (typeof node === 'number') {
    const spellings = [JSON.stringify(node), node.toExponential(), node.toExponential().toUpperCase()];
    const plain = JSON.stringify(node);
    if (plain.includes('.') && !/e/i.test(plain)) spellings.push(`${plain}000`);
    return spellings[choices() % spellings.length]!;
  }
  if (Array.isArray(node)) return `[${ws()}${node.map((n) => render(n, choices) + ws()).join(`,${ws()}`)}]`;
  if (node !== null && typeof node === 'object') {
    const members = node.entries.map(([key, value]) => {
      const keyText = [...key]
        .map((ch) => (choices() % 3 === 0 ? escapeUnits(ch) : JSON.stringify(ch).slice(1, -1)))
        .join('');
      return `${ws()}"${keyText}"${ws()}:${ws()}${render(value, choices)}${ws()}`;
    });
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(node);
}

function escapeUnits(ch: string): string {
  let out = '';
  for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}

test('property: literals agree with JSON.parse despite escapes, duplicates, whitespace and exponents', () => {
  fc.assert(
    fc.property(tree, fc.infiniteStream(fc.nat()), (value, stream) => {
      const it = stream[Symbol.iterator]();
      const text = render(value, () => it.next().value as number);
      assertAgreesWithJsonParse(text);
    }),
    { numRuns: 300 },
  );
});
