import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Paginated } from '../../platform/http/common.schemas.js';
import { authed } from '../../platform/http/route.js';
import { CreateUserBody, ListUsersQuery, PartnerUser, UpdateUserBody, UserParams } from './users.schemas.js';
import type { UsersService } from './users.service.js';

const TAG = ['Users'];

export const usersRoutes: FastifyPluginAsyncTypebox<{ users: UsersService }> = async (app, { users }) => {
  app.get(
    '/v1/partner/users',
    authed('hmac', { summary: 'List partner users', tags: TAG, querystring: ListUsersQuery, response: { 200: Paginated(PartnerUser) } }),
    async (request) => users.list(request.partnerAuth!, request.query),
  );

  app.post(
    '/v1/partner/users',
    authed('hmacSecret', {
      summary: 'Create a partner user',
      tags: TAG,
      body: CreateUserBody,
      response: { 201: PartnerUser, 409: Type.Ref('Error') },
    }),
    async (request, reply) => reply.status(201).send(await users.create(request.partnerAuth!, request.body)),
  );

  app.get(
    '/v1/partner/users/:externalId',
    authed('hmac', {
      summary: 'Get a user by your external id',
      tags: TAG,
      params: UserParams,
      response: { 200: PartnerUser, 404: Type.Ref('Error') },
    }),
    async (request) => users.get(request.partnerAuth!, request.params.externalId),
  );

  app.patch(
    '/v1/partner/users/:externalId',
    authed('hmacSecret', {
      summary: "Update a user's email, names or metadata",
      tags: TAG,
      params: UserParams,
      body: UpdateUserBody,
      response: { 200: PartnerUser, 404: Type.Ref('Error') },
    }),
    async (request) => users.update(request.partnerAuth!, request.params.externalId, request.body),
  );
};
