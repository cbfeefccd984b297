import assert from 'node:assert/strict';
import { test } from 'node:test';
import { organizationSearchKey } from './search-key.js';

// The SQL function's own results for these are checked in test/integration/organizations-index.test.ts.
test('lower case, "&" as "and", accents folded, apostrophes dropped, other runs one space, trimmed', () => {
  assert.equal(organizationSearchKey('AMERICAN NATIONAL RED CROSS'), 'american national red cross');
  assert.equal(organizationSearchKey('BOYS & GIRLS CLUB OF LINCOLN CO'), 'boys and girls club of lincoln co');
  assert.equal(organizationSearchKey("St. Jude Children's Research Hospital"), 'st jude childrens research hospital');
  assert.equal(organizationSearchKey('Children’s Fund'), 'childrens fund');
  assert.equal(organizationSearchKey('médecins sans frontières'), 'medecins sans frontieres');
  assert.equal(organizationSearchKey('  charity: water!! '), 'charity water');
  assert.equal(organizationSearchKey('A&B'), 'a and b');
  assert.equal(organizationSearchKey('&CO'), 'and co');
  assert.equal(organizationSearchKey('POST 12-B (VFW)'), 'post 12 b vfw');
  assert.equal(organizationSearchKey('!!!'), '');
  assert.equal(organizationSearchKey(''), '');
});

test('like PostgreSQL under the C locale, only ASCII letters are lowered: an upper-case accent is a separator', () => {
  assert.equal(organizationSearchKey('CAFÉ ÉTOILE'), 'caf toile');
  assert.equal(organizationSearchKey('Straße 1'), 'stra e 1');
});
