import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses } from '../../platform/http/common.schemas.js';
import { authed } from '../../platform/http/route.js';
import {
  ConnectedAccount,
  ConnectedAccountParams,
  CreateConnectedAccountBody,
  CreatePriceBody,
  CreateProductBody,
  Price,
  Product,
  ProductParams,
} from './catalog.schemas.js';
import type { CatalogService } from './catalog.service.js';

const PRODUCTS = ['Products and prices'];
const CONNECTED = ['Connected accounts'];

export const catalogRoutes: FastifyPluginAsyncTypebox<{ catalog: CatalogService }> = async (app, { catalog }) => {
  app.get(
    '/api/products',
    authed('payments', { summary: 'List products', tags: PRODUCTS, response: { 200: Type.Array(Product) } }),
    async (request) => catalog.listProducts(request.paymentsAuth!),
  );

  app.post(
    '/api/products',
    authed('payments', { summary: 'Create a product', tags: PRODUCTS, body: CreateProductBody, response: { 200: Product, ...errorResponses(502, 503) } }),
    async (request) => catalog.createProduct(request.paymentsAuth!, request.body.name),
  );

  app.get(
    '/api/products/:productId/prices',
    authed('payments', {
      summary: "List a product's prices",
      tags: PRODUCTS,
      params: ProductParams,
      response: { 200: Type.Array(Price), ...errorResponses(404) },
    }),
    async (request) => catalog.listPrices(request.paymentsAuth!, request.params.productId),
  );

  app.post(
    '/api/products/:productId/prices',
    authed('payments', {
      summary: 'Create a price for a product',
      description: 'With `interval` a recurring price (day, week, month or year), without it a one-time price.',
      tags: PRODUCTS,
      params: ProductParams,
      body: CreatePriceBody,
      response: { 200: Price, ...errorResponses(404, 502, 503) },
    }),
    async (request) => catalog.createPrice(request.paymentsAuth!, request.params.productId, request.body),
  );

  app.get(
    '/api/connected-accounts',
    authed('payments', { summary: 'List connected accounts', tags: CONNECTED, response: { 200: Type.Array(ConnectedAccount) } }),
    async (request) => catalog.listConnected(request.paymentsAuth!),
  );

  app.get(
    '/api/connected-accounts/:accountId',
    authed('payments', {
      summary: 'Get a connected account',
      tags: CONNECTED,
      params: ConnectedAccountParams,
      response: { 200: ConnectedAccount, ...errorResponses(404) },
    }),
    async (request) => catalog.getConnected(request.paymentsAuth!, request.params.accountId),
  );
};

/** Operator: Connect accounts are registered by the platform, not by partners. */
export const catalogAdminRoutes: FastifyPluginAsyncTypebox<{ catalog: CatalogService }> = async (app, { catalog }) => {
  app.post(
    '/v1/admin/payments-accounts/:accountId/connected-accounts',
    authed('operator', {
      summary: "Register a connected account that receives a partner's cut",
      tags: ['Operator'],
      params: Type.Object({ accountId: Type.String({ minLength: 1, maxLength: 64 }) }),
      body: CreateConnectedAccountBody,
      response: { 201: ConnectedAccount, ...errorResponses(404, 409) },
    }),
    async (request, reply) => reply.status(201).send(await catalog.createConnected(request.params.accountId, request.body)),
  );
};
