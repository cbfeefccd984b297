import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { authed } from '../../platform/http/route.js';
import type { KeysService } from './keys.service.js';
import type { PartnersService } from './partners.service.js';
import {
  ApiKey,
  CreateKeyBody,
  CreatedApiKey,
  KeyIdParams,
  LoginBody,
  Me,
  Partner,
  RefreshBody,
  RegisterBody,
  Session,
  UpdateKeyBody,
  WidgetConfig,
} from './partners.schemas.js';

export interface PartnersRoutesDeps {
  partners: PartnersService;
  keys: KeysService;
}

const AUTH_TAG = ['Portal auth'];
const KEYS_TAG = ['API keys'];

export const partnersRoutes: FastifyPluginAsyncTypebox<PartnersRoutesDeps> = async (app, { partners, keys }) => {
  app.post(
    '/v1/partner/auth/register',
    authed('none', {
      summary: 'Create a portal login and its partner (sandbox access at once; production after approval)',
      tags: AUTH_TAG,
      body: RegisterBody,
      response: { 201: Session, 409: Type.Ref('Error') },
    }),
    async (request, reply) => reply.status(201).send(await partners.register(request.body)),
  );

  app.post(
    '/v1/partner/auth/login',
    authed('none', {
      summary: 'Log in to the partner portal',
      tags: AUTH_TAG,
      body: LoginBody,
      response: { 200: Session, 401: Type.Ref('Error'), 429: Type.Ref('Error') },
    }),
    async (request) => partners.login(request.body, request.ip),
  );

  app.post(
    '/v1/partner/auth/refresh',
    authed('none', {
      summary: 'Exchange a refresh token for a new token pair',
      tags: AUTH_TAG,
      body: RefreshBody,
      response: { 200: Session, 401: Type.Ref('Error') },
    }),
    async (request) => partners.refresh(request.body.refreshToken),
  );

  app.get(
    '/v1/partner/auth/me',
    authed('portal', {
      summary: 'The logged-in user, its partner and the active publishable key',
      tags: AUTH_TAG,
      response: { 200: Me },
    }),
    async (request) => partners.me(request.portalAuth!),
  );

  app.post(
    '/v1/partner/keys',
    authed('portal', {
      summary: 'Create an API key pair; the secret key and HMAC secret are shown only here',
      tags: KEYS_TAG,
      body: CreateKeyBody,
      response: { 201: CreatedApiKey, 403: Type.Ref('Error'), 404: Type.Ref('Error') },
    }),
    async (request, reply) => {
      const auth = request.portalAuth!;
      return reply.status(201).send(await keys.createKey(auth.partnerId, request.body, auth.userId));
    },
  );

  app.get(
    '/v1/partner/keys',
    authed('portal', { summary: 'List API keys (no secrets)', tags: KEYS_TAG, response: { 200: Type.Array(ApiKey) } }),
    async (request) => keys.listKeys(request.portalAuth!.partnerId),
  );

  app.get(
    '/v1/partner/keys/partner-info',
    authed('portal', { summary: 'The partner record', tags: KEYS_TAG, response: { 200: Partner, 404: Type.Ref('Error') } }),
    async (request) => partners.partnerInfo(request.portalAuth!.partnerId),
  );

  app.get(
    '/v1/partner/keys/:id',
    authed('portal', {
      summary: 'One API key (no secrets)',
      tags: KEYS_TAG,
      params: KeyIdParams,
      response: { 200: ApiKey, 404: Type.Ref('Error') },
    }),
    async (request) => keys.getKey(request.portalAuth!.partnerId, request.params.id),
  );

  app.patch(
    '/v1/partner/keys/:id',
    authed('portal', {
      summary: 'Rename, deactivate or set the expiry of an API key',
      tags: KEYS_TAG,
      params: KeyIdParams,
      body: UpdateKeyBody,
      response: { 200: ApiKey, 404: Type.Ref('Error') },
    }),
    async (request) => keys.updateKey(request.portalAuth!.partnerId, request.params.id, request.body),
  );

  app.delete(
    '/v1/partner/keys/:id',
    authed('portal', {
      summary: 'Revoke an API key pair for good',
      tags: KEYS_TAG,
      params: KeyIdParams,
      response: { 200: Type.Object({ id: Type.String(), deleted: Type.Literal(true) }), 404: Type.Ref('Error') },
    }),
    async (request) => keys.revokeKey(request.portalAuth!.partnerId, request.params.id),
  );

  app.get(
    '/v1/partner/config',
    authed('widget', {
      summary: 'Widget bootstrap configuration',
      tags: ['Widget'],
      response: { 200: WidgetConfig },
    }),
    async (request) => partners.widgetConfig(request.partnerAuth!.partnerId, request.partnerAuth!.environment),
  );
};
