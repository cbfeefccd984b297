import assert from 'node:assert/strict';
import { test } from 'node:test';
import { copyLine } from './import.repo.js';

test('copyLine writes COPY text: tabs between fields, \\N for null, backslash, tab and line breaks escaped', () => {
  const line = copyLine({
    seq: 7,
    ein: '123456789',
    name: 'A\\B\tC\r\nD',
    city: null,
    state: 'KS',
    nteeCode: null,
    deductibility: 'deductible',
    status: 'active',
    slugs: ['a-b-c-d', null, 'a-b-c-d-ks', 'a-b-c-d-123456789'],
  });
  assert.equal(line, '7\t123456789\tA\\\\B\\tC\\r\\nD\t\\N\tKS\t\\N\tdeductible\tactive\ta-b-c-d\t\\N\ta-b-c-d-ks\ta-b-c-d-123456789\n');
});
