import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { authed } from '../../platform/http/route.js';
import { demoCsp, renderDemoPage, sandboxPublishableKey } from './demo.page.js';
import { acceptsGzip, loadAsset, notModified } from './widget.asset.js';

const TAG = ['Widget'];

// Partners embed /widget.js by this fixed URL, so a fix must reach them without a new snippet: a
// day of freshness, then a cheap revalidation by ETag (a week of serving the old copy meanwhile).
const WIDGET_CACHE = 'public, max-age=86400, stale-while-revalidate=604800';

export interface WidgetRoutesOptions {
  publicUrl: string;
  dataDir: string;
  /** Only servers that seed the sandbox partner show the live demo. */
  seedSandbox: boolean;
}

export const widgetRoutes: FastifyPluginAsyncTypebox<WidgetRoutesOptions> = async (app, { publicUrl, dataDir, seedSandbox }) => {
  const asset = await loadAsset();

  app.get(
    '/widget.js',
    authed('none', {
      summary: 'The embeddable donation widget (JavaScript)',
      description:
        'A dependency-free script for partner pages: `<div data-almoner-donate data-key="pk_...">` plus this script. ' +
        'It calls the widget routes with the publishable key. Gzipped when the client accepts it; revalidate with If-None-Match.',
      tags: TAG,
      response: {
        // The body is bytes (gzipped or not), which the serializer passes through as they are.
        200: Type.Unsafe<Buffer>(Type.String({ description: 'application/javascript' })),
        304: Type.Null({ description: 'Not modified: the cached copy is current' }),
      },
    }),
    async (request, reply) => {
      const gzip = acceptsGzip(request.headers['accept-encoding']);
      reply
        .header('cache-control', WIDGET_CACHE)
        .header('vary', 'Accept-Encoding')
        .header('etag', gzip ? asset.gzipEtag : asset.etag)
        // Pages that isolate themselves (COEP) may still load it from our origin.
        .header('cross-origin-resource-policy', 'cross-origin')
        .header('x-content-type-options', 'nosniff');
      if (notModified(request.headers['if-none-match'], asset)) return reply.status(304).send(null);
      reply.type('application/javascript; charset=utf-8');
      if (gzip) reply.header('content-encoding', 'gzip');
      return reply.send(gzip ? asset.gzip : asset.identity);
    },
  );

  app.get(
    '/',
    authed('none', {
      summary: 'Demo page (HTML): the donation widget live with the sandbox partner',
      description: 'What almoner is, the widget working against this server, the embed snippet and links to both API documents.',
      tags: TAG,
      response: { 200: Type.String({ description: 'text/html' }) },
    }),
    async (_request, reply) => {
      const nonce = randomBytes(16).toString('base64');
      const publishableKey = seedSandbox ? await sandboxPublishableKey(dataDir) : undefined;
      return reply
        .header('content-security-policy', demoCsp(nonce))
        .header('cache-control', 'no-store')
        .header('x-content-type-options', 'nosniff')
        .type('text/html; charset=utf-8')
        .send(renderDemoPage({ publicUrl, publishableKey }, nonce));
    },
  );
};
