/**
 * Body handling on a secret-key write route (POST /v1/partner/users): every malformed request is
 * refused with the one error body, after authentication, and writes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { createPartner, type PartnerFixture } from '../factories/partners.js';
import { createTestContext, OPERATOR_TOKEN, signed, type TestContext } from '../harness/context.js';

const ROUTE = '/v1/partner/users';
const MIB = 1024 * 1024;

let ctx: TestContext;
let p: PartnerFixture;
before(async () => {
  ctx = await createTestContext();
  p = await createPartner(ctx.services);
});
after(async () => {
  await ctx.close();
});

const inject = (opts: InjectOptions) => ctx.app.inject(opts);

/** A POST signed over exactly `raw`, sent with the given content type. */
function post(raw: string | undefined, contentType: string | null = 'application/json', as: PartnerFixture = p): InjectOptions {
  const opts = signed(ctx.clock, as.sk, 'POST', ROUTE, undefined, raw === undefined ? {} : { rawBody: raw });
  const headers = { ...(opts.headers as Record<string, string>) };
  if (contentType === null) delete headers['content-type'];
  else headers['content-type'] = contentType;
  return { ...opts, headers };
}

const postJson = (body: unknown) => post(JSON.stringify(body));

function assertError(res: LightMyRequestResponse, status: number, code: string) {
  assert.equal(res.statusCode, status, res.body);
  const body = res.json() as Record<string, unknown>;
  assert.deepEqual(
    Object.keys(body).filter((k) => k !== 'details').sort(),
    ['code', 'error', 'message', 'requestId', 'statusCode'],
    res.body,
  );
  assert.equal(body.statusCode, status);
  assert.equal(body.code, code, res.body);
  assert.equal(typeof body.message, 'string');
  assert.equal(body.requestId, res.headers['x-request-id']);
  assert.doesNotMatch(res.body, /\n\s+at |\.ts:\d+|\.js:\d+|node_modules|SyntaxError|Unexpected token/, 'internals leak into the message');
  return body as { message: string; details?: { path?: string; message: string }[] };
}

/** Users of partner p in the sandbox, read through the API. */
async function userCount(): Promise<number> {
  const res = await inject(signed(ctx.clock, p.sk, 'GET', `${ROUTE}?page=1&limit=100`));
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { total: number }).total;
}

async function assertNothingWritten() {
  assert.equal(await userCount(), 0, 'a refused request created a user');
}

describe('POST /v1/partner/users body errors', () => {
  test('an unknown property -> 400 naming it in the message and the details path', async () => {
    const body = assertError(await inject(postJson({ externalUserId: 'u_unknown', nickname: 'Bo' })), 400, 'VALIDATION_ERROR');
    assert.match(body.message, /nickname/);
    assert.ok(body.details?.some((d) => d.path === 'body.nickname' && /nickname/.test(d.message)), JSON.stringify(body.details));
    await assertNothingWritten();
  });

  test('malformed JSON, signed correctly -> 400 INVALID_JSON', async () => {
    for (const raw of ['{"externalUserId":"u_bad",}', '{"externalUserId":', 'nul', '{"externalUserId":"u_x"} trailing', "{'externalUserId':'u_x'}"]) {
      assertError(await inject(post(raw)), 400, 'INVALID_JSON');
    }
    await assertNothingWritten();
  });

  test('malformed JSON is judged only after authentication', async () => {
    const unsigned = post('{"externalUserId":');
    (unsigned.headers as Record<string, string>)['x-signature'] = '0'.repeat(64);
    assertError(await inject(unsigned), 401, 'INVALID_SIGNATURE');
    const withPk = signed(ctx.clock, p.pk, 'POST', ROUTE, undefined, { rawBody: '{"externalUserId":' });
    assertError(await inject(withPk), 403, 'SECRET_KEY_REQUIRED');
    await assertNothingWritten();
  });

  test('a body over 1 MiB -> 413; exactly 1 MiB is read (and judged on its content)', async () => {
    const sized = (bytes: number) => {
      const head = '{"externalUserId":"u_big","padding":"';
      const tail = '"}';
      return head + 'x'.repeat(bytes - head.length - tail.length) + tail;
    };
    const over = sized(MIB + 1);
    assert.equal(Buffer.byteLength(over), MIB + 1);
    assertError(await inject(post(over)), 413, 'PAYLOAD_TOO_LARGE');
    const atLimit = sized(MIB);
    assert.equal(Buffer.byteLength(atLimit), MIB);
    // Read in full, signature checked, then refused for the unknown property: not a 413.
    const body = assertError(await inject(post(atLimit)), 400, 'VALIDATION_ERROR');
    assert.match(body.message, /padding/);
    await assertNothingWritten();
  });

  test('a body that is not JSON -> 415, even when signed', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonp', 'application/xml']) {
      assertError(await inject(post('externalUserId=u_form', type)), 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
    // A JSON text sent as text/plain is still refused, not sniffed.
    assertError(await inject(post('{"externalUserId":"u_plain"}', 'text/plain')), 415, 'UNSUPPORTED_MEDIA_TYPE');
    // No Content-Type at all on a body.
    assertError(await inject(post('{"externalUserId":"u_none"}', null)), 415, 'UNSUPPORTED_MEDIA_TYPE');
    await assertNothingWritten();
  });

  test('JSON media types with parameters or a +json suffix are accepted', async () => {
    // Another partner, so partner p's user list stays empty for the other checks.
    const q = await createPartner(ctx.services);
    for (const [type, id] of [
      ['application/json; charset=utf-8', 'u_charset'],
      ['Application/JSON', 'u_case'],
      ['application/merge-patch+json', 'u_suffix'],
    ] as const) {
      const res = await inject(post(JSON.stringify({ externalUserId: id }), type, q));
      assert.equal(res.statusCode, 201, `${type}: ${res.body}`);
    }
  });

  test('a missing required field -> 400 naming it', async () => {
    const body = assertError(await inject(postJson({ firstName: 'Ann' })), 400, 'VALIDATION_ERROR');
    assert.match(body.message, /externalUserId/);
    assert.ok(body.details?.some((d) => d.path === 'body.externalUserId'), JSON.stringify(body.details));
    await assertNothingWritten();
  });

  test('an empty body or a JSON null -> 400, not a crash', async () => {
    assertError(await inject(post(undefined)), 400, 'VALIDATION_ERROR');
    assertError(await inject(post('')), 400, 'VALIDATION_ERROR');
    assertError(await inject(post('null')), 400, 'VALIDATION_ERROR');
    assertError(await inject(post('[]')), 400, 'VALIDATION_ERROR');
    await assertNothingWritten();
  });

  test('body values are never coerced to the declared type', async () => {
    for (const [field, value] of [
      ['externalUserId', 12345],
      ['externalUserId', true],
      ['externalUserId', ['u_arr']],
      ['firstName', 42],
      ['firstName', false],
      ['metadata', 'not-an-object'],
    ] as const) {
      const payload = { externalUserId: 'u_coerce', [field]: value };
      const body = assertError(await inject(postJson(payload)), 400, 'VALIDATION_ERROR');
      assert.match(body.message, new RegExp(field), `${field}=${JSON.stringify(value)}: ${body.message}`);
    }
    await assertNothingWritten();
  });

  test('prototype keys in a body are refused (the framework parser we replaced refused them too)', async () => {
    for (const raw of [
      '{"externalUserId":"u_proto","metadata":{"__proto__":{"isAdmin":true}}}',
      '{"externalUserId":"u_proto2","metadata":{"\\u005f_proto__":{"isAdmin":true}}}',
      '{"externalUserId":"u_proto3","metadata":{"constructor":{"prototype":{"isAdmin":true}}}}',
    ]) {
      assertError(await inject(post(raw)), 400, 'INVALID_JSON');
    }
    await assertNothingWritten();
  });

  test('a NUL character (\\u0000) anywhere in the body -> 400 naming the field, not a 500 from PostgreSQL', async () => {
    for (const [raw, field] of [
      ['{"externalUserId":"u\\u0000nul"}', 'externalUserId'],
      ['{"externalUserId":"u_nul2","firstName":"A\\u0000"}', 'firstName'],
      ['{"externalUserId":"u_nul3","metadata":{"deep":{"list":["ok","x\\u0000"]}}}', '1'],
      ['{"externalUserId":"u_nul4","metadata":{"k\\u0000":"v"}}', 'k'],
    ] as const) {
      const body = assertError(await inject(post(raw)), 400, 'VALIDATION_ERROR');
      assert.match(body.message, /NUL character/);
      assert.ok(body.message.includes(`"${field}`), body.message);
    }
    // Judged after authentication, like every other body problem.
    const unsigned = { ...post('{"externalUserId":"u\\u0000"}'), headers: { 'content-type': 'application/json' } };
    assert.equal((await inject(unsigned)).statusCode, 401);
    await assertNothingWritten();
  });

  test('a body nested more than 32 levels deep -> 400, not a 500 from jsonb or the serializer', async () => {
    // The body object and metadata are two levels; n arrays inside make 2 + n.
    const nested = (id: string, n: number) => `{"externalUserId":"${id}","metadata":{"a":${'['.repeat(n)}${']'.repeat(n)}}}`;
    for (const n of [31, 5_000, 100_000]) {
      const body = assertError(await inject(post(nested(`u_deep${n}`, n))), 400, 'VALIDATION_ERROR');
      assert.match(body.message, /more than 32 levels/);
    }
    await assertNothingWritten();
  });

  test('%00 in a path or query parameter -> 400 naming the parameter', async () => {
    for (const [url, param] of [
      [`${ROUTE}/u%00x`, 'externalId'],
      ['/v1/partner/transactions?externalUserId=a%00', 'externalUserId'],
      ['/v1/partner/actions?actionType=PURCHASE&page=1&actionType=X%00', 'actionType'],
    ] as const) {
      const body = assertError(await inject(signed(ctx.clock, p.sk, 'GET', url)), 400, 'VALIDATION_ERROR');
      assert.ok(body.message.includes(`"${param}"`), `${url}: ${body.message}`);
    }
    assert.equal((await inject(signed(ctx.clock, p.sk, 'GET', `${ROUTE}/u%2500x`))).statusCode, 404, 'an encoded percent sign is no NUL');
  });

  test('control: a valid body is created, and the list sees it', async () => {
    const res = await inject(postJson({ externalUserId: 'u_valid', firstName: 'Ann' }));
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(await userCount(), 1);
  });

  test('control: a body exactly 32 levels deep, and brackets inside strings, are accepted', async () => {
    const res = await inject(post(`{"externalUserId":"u_deep30","metadata":{"a":${'['.repeat(30)}${']'.repeat(30)},"b":"${'{['.repeat(50)}"}}`));
    assert.equal(res.statusCode, 201, res.body);
  });

  test('control: the six characters \\u0000 as text are stored as they are', async () => {
    const res = await inject(post('{"externalUserId":"u_escaped","firstName":"\\\\u0000"}'));
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().firstName, '\\u0000');
    const read = await inject(signed(ctx.clock, p.sk, 'GET', `${ROUTE}/u_escaped`));
    assert.equal(read.json().firstName, '\\u0000');
  });
});

describe('strings are not coerced to numbers or booleans in bodies (other write routes)', () => {
  test('PATCH /v1/partner/keys/:id with isActive "false" -> 400, the key stays active', async () => {
    const auth = { authorization: `Bearer ${p.accessToken}` };
    const res = await inject({ method: 'PATCH', url: `/v1/partner/keys/${p.sandbox.keyId}`, headers: auth, payload: { isActive: 'false' } });
    const body = assertError(res, 400, 'VALIDATION_ERROR');
    assert.match(body.message, /isActive/);
    const key = await inject({ method: 'GET', url: `/v1/partner/keys/${p.sandbox.keyId}`, headers: auth });
    assert.equal((key.json() as { isActive: boolean }).isActive, true);
  });

  test('PATCH /v1/admin/partners/:id with rateLimit "5" -> 400, the limit is unchanged', async () => {
    const auth = { authorization: `Bearer ${OPERATOR_TOKEN}` };
    const beforeRes = await inject({ method: 'GET', url: `/v1/admin/partners/${p.partnerId}`, headers: auth });
    const res = await inject({ method: 'PATCH', url: `/v1/admin/partners/${p.partnerId}`, headers: auth, payload: { rateLimit: '5' } });
    const body = assertError(res, 400, 'VALIDATION_ERROR');
    assert.match(body.message, /rateLimit/);
    const afterRes = await inject({ method: 'GET', url: `/v1/admin/partners/${p.partnerId}`, headers: auth });
    assert.deepEqual(afterRes.json(), beforeRes.json());
  });

  test('control: query strings are coerced (they arrive as text)', async () => {
    const res = await inject(signed(ctx.clock, p.sk, 'GET', `${ROUTE}?page=2&limit=5`));
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { page: unknown; limit: unknown };
    assert.equal(body.page, 2);
    assert.equal(body.limit, 5);
    const bad = await inject(signed(ctx.clock, p.sk, 'GET', `${ROUTE}?page=two`));
    assert.match(assertError(bad, 400, 'VALIDATION_ERROR').message, /page/);
  });
});
