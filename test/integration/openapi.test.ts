import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { createTestContext, type TestContext } from '../harness/context.js';

/**
 * The OpenAPI document at /partner-api is generated from the route schemas; these tests prove it
 * is a valid document and that no registered route is missing from it.
 */

let ctx: TestContext;
before(async () => {
  ctx = await createTestContext();
});
after(async () => {
  await ctx.close();
});

/** The parser's document type, without importing its transitive openapi-types package. */
type ParserDocument = Awaited<ReturnType<typeof SwaggerParser.validate>>;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
}

async function fetchOne(url: string): Promise<OpenApiDoc> {
  const res = await ctx.app.inject({ method: 'GET', url });
  assert.equal(res.statusCode, 200, res.body);
  assert.match(String(res.headers['content-type']), /application\/json/);
  return res.json() as OpenApiDoc;
}

/**
 * The Partner API and the Payments API are published as two documents; together they must cover
 * every route, so the checks below run on their union.
 */
async function fetchDocument(): Promise<OpenApiDoc> {
  const partner = await fetchOne('/partner-api/openapi.json');
  const payments = await fetchOne('/payments-api/openapi.json');
  const overlap = Object.keys(payments.paths).filter((p) => p in partner.paths);
  assert.deepEqual(overlap, [], 'a path is in both documents');
  return { ...partner, paths: { ...partner.paths, ...payments.paths } };
}

/**
 * Every (method, path) the app serves, read from Fastify's own route tree. printRoutes draws one
 * node per line as `<tree drawing><segment> (<METHODS>)`; the drawing is 4 characters per level,
 * and a node's full path is its ancestors' segments joined. Nodes without handlers carry no
 * method list and only contribute their segment.
 */
function registeredRoutes(tree: string): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    if (!line.trim()) continue;
    const m = /^((?:[│ ] {3}|[├└]── )*)(.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    assert.ok(m, `unparsed printRoutes line: ${JSON.stringify(line)}`);
    const depth = [...m[1]!].length / 4 - 1;
    assert.ok(Number.isInteger(depth) && depth >= 0, `bad indentation: ${JSON.stringify(line)}`);
    stack.length = depth;
    stack.push(m[2]!);
    const path = stack.join('');
    for (const method of m[3]?.split(',').map((s) => s.trim()) ?? []) out.push({ method, path });
  }
  return out;
}

/** Fastify's `:id` is OpenAPI's `{id}`. */
const toOpenApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

test('GET /partner-api/openapi.json and /payments-api/openapi.json are valid OpenAPI 3 documents', async () => {
  for (const url of ['/partner-api/openapi.json', '/payments-api/openapi.json']) {
    const doc = await fetchOne(url);
    assert.match(doc.openapi, /^3\./);
    // The parser dereferences in place; validate a copy so the checks below see the original.
    await SwaggerParser.validate(structuredClone(doc) as unknown as ParserDocument);
  }
});

test('the route-tree parser reads nested and parameterised routes', () => {
  const sample = [
    '├── /healthz (GET, HEAD)',
    '├── /v1/partner/keys (POST, GET, HEAD)',
    '│   ├── /partner-info (GET, HEAD)',
    '│   └── /:id (GET, HEAD, PATCH, DELETE)',
    '├── /v1/partner/users',
    '│   └── /:externalId (GET)',
    '└── * (OPTIONS)',
  ].join('\n');
  const routes = registeredRoutes(sample).map((r) => `${r.method} ${r.path}`);
  assert.deepEqual(routes, [
    'GET /healthz',
    'HEAD /healthz',
    'POST /v1/partner/keys',
    'GET /v1/partner/keys',
    'HEAD /v1/partner/keys',
    'GET /v1/partner/keys/partner-info',
    'HEAD /v1/partner/keys/partner-info',
    'GET /v1/partner/keys/:id',
    'HEAD /v1/partner/keys/:id',
    'PATCH /v1/partner/keys/:id',
    'DELETE /v1/partner/keys/:id',
    'GET /v1/partner/users/:externalId',
    'OPTIONS *',
  ]);
});

test('every registered route appears in the document with its method, and nothing else does', async () => {
  const doc = await fetchDocument();
  const routes = registeredRoutes(ctx.app.printRoutes({ commonPrefix: false }));
  const served = new Set(routes.map((r) => `${r.method} ${r.path}`));
  // Sanity: the parser found the routes we know exist, so an empty list cannot pass by accident.
  for (const known of ['GET /healthz', 'POST /v1/partner/keys', 'PATCH /v1/partner/keys/:id', 'GET /v1/partner/users/:externalId', 'POST /v1/admin/partners/:id/approve']) {
    assert.ok(served.has(known), `route tree lacks ${known}; parsed: ${[...served].join(', ')}`);
  }

  const documented = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of HTTP_METHODS) if (item[method]) documented.add(`${method.toUpperCase()} ${path}`);
  }

  const missing: string[] = [];
  for (const { method, path } of routes) {
    if (/^\/(partner|payments)-api(\/|$)/.test(path)) continue; // the docs themselves
    if (method === 'OPTIONS') continue; // CORS preflight
    // Fastify adds a HEAD twin to every GET route; the document describes the GET.
    if (method === 'HEAD' && served.has(`GET ${path}`)) continue;
    const key = `${method} ${toOpenApiPath(path)}`;
    if (!documented.has(key)) missing.push(key);
  }
  assert.deepEqual(missing, [], `routes missing from the OpenAPI document:\n${missing.join('\n')}`);

  const servedOpenApi = new Set(routes.map((r) => `${r.method} ${toOpenApiPath(r.path)}`));
  const phantom = [...documented].filter((k) => !servedOpenApi.has(k));
  assert.deepEqual(phantom, [], `documented operations that no route serves:\n${phantom.join('\n')}`);
});

test('every documented operation declares its errors with the shared error body and says how it authenticates', async () => {
  const doc = await fetchDocument();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of HTTP_METHODS) {
      const op = item[method] as { responses?: Record<string, unknown>; security?: unknown[]; description?: string } | undefined;
      if (!op) continue;
      const where = `${method.toUpperCase()} ${path}`;
      assert.ok(op.responses && Object.keys(op.responses).some((s) => s.startsWith('2')), `${where} has no success response`);
      assert.ok(op.responses['500'], `${where} does not declare 500`);
      assert.ok(op.responses['400'], `${where} does not declare 400`);
      for (const [status, response] of Object.entries(op.responses)) {
        if (!/^[45]/.test(status)) continue;
        // The readiness probe answers 503 with its own {status, reason} body, for load balancers.
        if (path === '/readyz' && status === '503') continue;
        const schema = (response as { content?: Record<string, { schema?: { $ref?: string } }> }).content?.['application/json']?.schema;
        // ErrorWithResult is the same body plus the original result's fields (IDEMPOTENT replays, failed actions).
        assert.ok(
          ['#/components/schemas/Error', '#/components/schemas/ErrorWithResult'].includes(schema?.$ref ?? ''),
          `${where} ${status} does not use the shared error body (${schema?.$ref})`,
        );
      }
      assert.ok(Array.isArray(op.security), `${where} has no security entry`);
      assert.match(op.description ?? '', /Auth: /, `${where} does not say how it authenticates`);
    }
  }
  // Signed routes document the three headers, portal routes the bearer token.
  const users = doc.paths['/v1/partner/users']!.get as { security: Record<string, unknown>[] };
  assert.deepEqual(Object.keys(users.security[0]!).sort(), ['PartnerKey', 'Signature', 'Timestamp']);
  const keys = doc.paths['/v1/partner/keys']!.post as { security: Record<string, unknown>[]; responses: Record<string, unknown> };
  assert.deepEqual(Object.keys(keys.security[0]!), ['PortalToken']);
  assert.ok(keys.responses['201']);
  assert.ok(keys.responses['403']);
});

test('GET /partner-api serves the Swagger UI page, wired to the document', async () => {
  const res = await ctx.app.inject({ method: 'GET', url: '/partner-api' });
  assert.equal(res.statusCode, 200, res.body);
  assert.match(String(res.headers['content-type']), /text\/html/);
  assert.match(res.body, /<html/i);
  assert.match(res.body, /Swagger UI/);
  assert.match(res.body, /swagger-initializer\.js/);

  const init = await ctx.app.inject({ method: 'GET', url: '/partner-api/static/swagger-initializer.js' });
  assert.equal(init.statusCode, 200, init.body);
  const bundle = await ctx.app.inject({ method: 'GET', url: '/partner-api/static/swagger-ui-bundle.js' });
  assert.equal(bundle.statusCode, 200);
  // The UI loads the spec relative to its page (with a trailing slash added, as the initializer
  // does); that URL must serve the same document.
  const specUrl = /\burl:\s*resolveUrl\(['"]([^'"]+)['"]\)/.exec(init.body)?.[1];
  assert.ok(specUrl, `no spec url in the initializer:\n${init.body.slice(0, 2000)}`);
  const resolved = new URL(specUrl, 'http://localhost/partner-api/').pathname;
  const spec = await ctx.app.inject({ method: 'GET', url: resolved });
  assert.equal(spec.statusCode, 200, `${resolved}: ${spec.body}`);
  assert.deepEqual(Object.keys(spec.json().paths).sort(), Object.keys((await fetchOne('/partner-api/openapi.json')).paths).sort());
  const payments = await ctx.app.inject({ method: 'GET', url: '/payments-api/json' });
  assert.deepEqual(Object.keys(payments.json().paths).sort(), Object.keys((await fetchOne('/payments-api/openapi.json')).paths).sort());
});
