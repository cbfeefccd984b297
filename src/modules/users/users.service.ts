import type { Kysely } from 'kysely';
import { objectId } from '../../platform/crypto/ids.js';
import type { Database, PartnerUserRow, PartnerUserUpdate } from '../../platform/db/schema.js';
import { AppError, notFound } from '../../platform/errors.js';
import type { PageQueryType } from '../../platform/http/common.schemas.js';
import { usersRepo, type Scope } from './users.repo.js';
import type { CreateUserBodyType, PartnerUserType, UpdateUserBodyType } from './users.schemas.js';

export function toPartnerUser(row: PartnerUserRow): PartnerUserType {
  return {
    id: row.id,
    externalUserId: row.external_user_id,
    email: row.email,
    firstName: row.first_name,
    lastName: row.last_name,
    metadata: row.metadata,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export class UsersService {
  /**
   * `now` is the partner's clock: in the sandbox it follows time travel, so a user created through
   * this API is stamped like one created by a reward submission at the same moment.
   */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: (scope: Scope) => Promise<Date>,
  ) {}

  async list(scope: Scope, q: PageQueryType) {
    const { rows, total } = await usersRepo.list(this.db, scope, (q.page - 1) * q.limit, q.limit);
    return { data: rows.map(toPartnerUser), page: q.page, limit: q.limit, total };
  }

  async get(scope: Scope, externalUserId: string) {
    const row = await usersRepo.find(this.db, scope, externalUserId);
    if (!row) throw notFound(`User "${externalUserId}"`);
    return toPartnerUser(row);
  }

  async create(scope: Scope, body: CreateUserBodyType) {
    const at = await this.now(scope);
    const row = await usersRepo.insert(this.db, scope, {
      id: objectId(at),
      created_at: at,
      updated_at: at,
      external_user_id: body.externalUserId,
      email: body.email ?? null,
      first_name: body.firstName ?? null,
      last_name: body.lastName ?? null,
      metadata: JSON.stringify(body.metadata ?? {}),
    });
    if (!row) {
      throw new AppError('USER_EXISTS', `A user with externalUserId "${body.externalUserId}" already exists; use PATCH to change it`);
    }
    return toPartnerUser(row);
  }

  async update(scope: Scope, externalUserId: string, body: UpdateUserBodyType) {
    const patch: PartnerUserUpdate = {};
    if (body.email !== undefined) patch.email = body.email;
    if (body.firstName !== undefined) patch.first_name = body.firstName;
    if (body.lastName !== undefined) patch.last_name = body.lastName;
    if (body.metadata !== undefined) patch.metadata = JSON.stringify(body.metadata);
    const row = await usersRepo.update(this.db, scope, externalUserId, patch, await this.now(scope));
    if (!row) throw notFound(`User "${externalUserId}"`);
    return toPartnerUser(row);
  }
}
