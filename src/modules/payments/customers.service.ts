import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import type { Database } from '../../platform/db/schema.js';
import type { PaymentCustomersTable } from '../../platform/db/schema.payments.js';
import { AppError, notFound } from '../../platform/errors.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import { customersRepo } from './customers.repo.js';
import type { CreateCustomerBodyType, CustomerType, ListCustomersQueryType, UpdateCustomerBodyType } from './customers.schemas.js';
import type { Processors } from './processor.js';

const fullName = (first: string | null | undefined, last: string | null | undefined) => [first, last].filter(Boolean).join(' ') || null;

export function toCustomer(row: Selectable<PaymentCustomersTable>, partnerNumber: number): CustomerType {
  return {
    firstName: row.first_name,
    lastName: row.last_name,
    customerId: row.id,
    partnerId: partnerNumber,
    email: row.email,
    externalId: row.external_id,
  };
}

const duplicate = (externalId: string) =>
  new AppError('CONFLICT', `A customer with externalId "${externalId}" already exists; get it with GET /api/customers/external/${encodeURIComponent(externalId)}`);

export class CustomersService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly processors: Processors,
    private readonly clock: Clock,
  ) {}

  async create(auth: PaymentsAuth, body: CreateCustomerBodyType): Promise<CustomerType> {
    if (!body.email && !body.externalId) {
      throw new AppError('VALIDATION_ERROR', 'Send email or externalId (or both) so the customer can be found again', {
        details: [{ path: '/email', message: 'email or externalId is required' }],
      });
    }
    if (body.externalId && (await customersRepo.findByExternalId(this.db, auth.accountId, body.externalId))) throw duplicate(body.externalId);
    const { id } = await this.processors.for(auth).createCustomer({
      email: body.email ?? null,
      name: fullName(body.firstName, body.lastName),
      externalId: body.externalId ?? null,
    });
    const now = this.clock.now();
    try {
      const row = await customersRepo.insert(this.db, {
        id,
        account_id: auth.accountId,
        first_name: body.firstName ?? null,
        last_name: body.lastName ?? null,
        email: body.email ?? null,
        external_id: body.externalId ?? null,
        created_at: now,
        updated_at: now,
      });
      return toCustomer(row, auth.partnerNumber);
    } catch (err) {
      // Two creates with one externalId racing: the unique index lets one through.
      if ((err as { code?: string }).code === '23505' && body.externalId) throw duplicate(body.externalId);
      throw err;
    }
  }

  async list(auth: PaymentsAuth, q: ListCustomersQueryType) {
    const after = q.startingAfter ? await customersRepo.find(this.db, auth.accountId, q.startingAfter) : undefined;
    if (q.startingAfter && !after) throw notFound(`Customer "${q.startingAfter}" (startingAfter)`);
    const rows = await customersRepo.list(this.db, auth.accountId, q.limit, after);
    return rows.map((r) => toCustomer(r, auth.partnerNumber));
  }

  async get(auth: PaymentsAuth, customerId: string) {
    return toCustomer(await this.row(auth, customerId), auth.partnerNumber);
  }

  async getByExternalId(auth: PaymentsAuth, externalId: string) {
    const row = await customersRepo.findByExternalId(this.db, auth.accountId, externalId);
    if (!row) throw notFound(`Customer with externalId "${externalId}"`);
    return toCustomer(row, auth.partnerNumber);
  }

  async update(auth: PaymentsAuth, customerId: string, body: UpdateCustomerBodyType) {
    const current = await this.row(auth, customerId);
    if (body.externalId !== undefined && body.externalId !== current.external_id) {
      throw new AppError('VALIDATION_ERROR', 'externalId cannot be changed; create a new customer instead', {
        details: [{ path: '/externalId', message: 'externalId is not updatable' }],
      });
    }
    const patch = {
      ...(body.firstName !== undefined ? { first_name: body.firstName } : {}),
      ...(body.lastName !== undefined ? { last_name: body.lastName } : {}),
      ...(body.email !== undefined ? { email: body.email } : {}),
    };
    if (Object.keys(patch).length === 0) return toCustomer(current, auth.partnerNumber);
    await this.processors.for(auth).updateCustomer(customerId, {
      ...(body.email !== undefined ? { email: body.email } : {}),
      ...(body.firstName !== undefined || body.lastName !== undefined
        ? { name: fullName(body.firstName ?? current.first_name, body.lastName ?? current.last_name) }
        : {}),
    });
    const row = await customersRepo.update(this.db, auth.accountId, customerId, { ...patch, updated_at: this.clock.now() });
    if (!row) throw notFound(`Customer "${customerId}"`);
    return toCustomer(row, auth.partnerNumber);
  }

  /** A customer of this account; another account's customer is a 404 like a missing one. */
  async row(auth: PaymentsAuth, customerId: string, db: Kysely<Database> | Transaction<Database> = this.db) {
    const row = await customersRepo.find(db, auth.accountId, customerId);
    if (!row) throw notFound(`Customer "${customerId}"`);
    return row;
  }
}
