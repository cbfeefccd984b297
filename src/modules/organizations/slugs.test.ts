import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { slugCandidates, slugify } from './slugs.js';

describe('slugify', () => {
  test('lower-case words joined by hyphens, legal suffixes and a leading "the" dropped', () => {
    assert.equal(slugify('AMERICAN NATIONAL RED CROSS'), 'american-national-red-cross');
    assert.equal(slugify('SAVE THE CHILDREN FEDERATION INC'), 'save-the-children-federation');
    assert.equal(slugify('WORLD CENTRAL KITCHEN INCORPORATED'), 'world-central-kitchen');
    assert.equal(slugify('The Nature Conservancy'), 'nature-conservancy');
    assert.equal(slugify("St. Jude Children's Research Hospital"), 'st-jude-childrens-research-hospital');
    assert.equal(slugify('BOYS & GIRLS CLUB OF LINCOLN CO'), 'boys-and-girls-club-of-lincoln-co');
    assert.equal(slugify('Médecins Sans Frontières'), 'medecins-sans-frontieres');
  });

  test('a name that is only a suffix keeps it; a name of punctuation is empty', () => {
    assert.equal(slugify('INC'), 'inc');
    assert.equal(slugify('THE'), 'the');
    assert.equal(slugify('***'), '');
  });

  test('long names are cut at a word boundary', () => {
    const slug = slugify('VERY '.repeat(30) + 'LONG NAME');
    assert.ok(slug.length <= 80);
    assert.ok(!slug.endsWith('-'));
    assert.match(slug, /^very(-very)*$/);
  });

  test('always lower-case ASCII words joined by single hyphens', () => {
    fc.assert(
      fc.property(fc.string(), (name) => {
        const slug = slugify(name);
        assert.ok(slug === '' || /^[a-z0-9]+(-[a-z0-9]+)*$/.test(slug), slug);
      }),
    );
  });
});

describe('slugCandidates', () => {
  test('name, name-city, name-city-state, name-ein', () => {
    assert.deepEqual(slugCandidates({ ein: '480762291', name: 'MICHAELIS FOUNDATION,INC', city: 'WICHITA', state: 'KS' }), [
      'michaelis-foundation',
      'michaelis-foundation-wichita',
      'michaelis-foundation-wichita-ks',
      'michaelis-foundation-480762291',
    ]);
  });

  test('missing city or state skip their steps; an empty name still gets a slug', () => {
    assert.deepEqual(slugCandidates({ ein: '123456789', name: 'HOPE', city: null, state: 'NE' }), ['hope', null, 'hope-ne', 'hope-123456789']);
    assert.deepEqual(slugCandidates({ ein: '123456789', name: 'HOPE', city: null, state: null }), ['hope', null, null, 'hope-123456789']);
    assert.equal(slugCandidates({ ein: '123456789', name: '!!!', city: 'ST. PAUL', state: null })[1], 'organization-st-paul');
  });
});
