import assert from 'node:assert/strict';
import { test } from 'node:test';
import { donorFor } from './anonymity.js';

const ada = { first_name: 'Ada', last_name: 'Lovelace', email: 'ada@example.org' };

test('Full Transparency shows name and email; Partial the name; Anonymous and unknown nothing', () => {
  assert.deepEqual(donorFor('Full Transparency', ada), { name: 'Ada Lovelace', email: 'ada@example.org' });
  assert.deepEqual(donorFor('Partial Transparency', ada), { name: 'Ada Lovelace', email: null });
  assert.equal(donorFor('Anonymous', ada), null);
  assert.equal(donorFor(undefined, ada), null);
  assert.equal(donorFor('Full Transparency', null), null);
});

test('missing parts: no name and no email is no donor; a partial view without a name is nothing', () => {
  assert.equal(donorFor('Full Transparency', { first_name: null, last_name: ' ', email: null }), null);
  assert.deepEqual(donorFor('Full Transparency', { first_name: null, last_name: null, email: 'x@y.org' }), { name: null, email: 'x@y.org' });
  assert.equal(donorFor('Partial Transparency', { first_name: null, last_name: null, email: 'x@y.org' }), null);
  assert.deepEqual(donorFor('Full Transparency', { first_name: 'Ada', last_name: null, email: null }), { name: 'Ada', email: null });
});
