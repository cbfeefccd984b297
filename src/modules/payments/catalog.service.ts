import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import { prefixedId } from '../../platform/crypto/ids.js';
import type { Database } from '../../platform/db/schema.js';
import type { ConnectedAccountsTable, PaymentPricesTable } from '../../platform/db/schema.payments.js';
import { AppError, notFound } from '../../platform/errors.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import { normalizeCurrency, supportedCurrencies } from '../../platform/money/currencies.js';
import { accountsRepo } from './accounts.repo.js';
import { catalogRepo } from './catalog.repo.js';
import type { ConnectedAccountType, CreateConnectedAccountBodyType, CreatePriceBodyType, PriceType, ProductType } from './catalog.schemas.js';
import type { Processors } from './processor.js';

/** The upper-case code, or a 400 that lists what is accepted. */
export function currencyOrThrow(code: string, path = '/currency'): string {
  const upper = normalizeCurrency(code);
  if (!upper) {
    throw new AppError('VALIDATION_ERROR', `Unsupported currency "${code}"; use an ISO 4217 code such as ${supportedCurrencies().slice(0, 6).join(', ')}`, {
      details: [{ path, message: 'unsupported currency' }],
    });
  }
  return upper;
}

export function toPrice(row: Selectable<PaymentPricesTable>): PriceType {
  return {
    priceId: row.id,
    isCustomAmount: row.is_custom_amount,
    currency: row.currency,
    unitAmount: Number(row.unit_amount),
    recurringInterval: row.recurring_interval,
    productId: row.product_id,
    type: row.type,
  };
}

export function toConnected(row: Selectable<ConnectedAccountsTable>): ConnectedAccountType {
  return { paymentProcessorAccountId: row.id, percentageCut: row.cut_bps / 100, description: row.description };
}

/** Products and prices (contract B6.8) and connected accounts (B6.11) of one payments account. */
export class CatalogService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly processors: Processors | null = null,
  ) {}

  /** Stripe accounts keep their catalogue at Stripe too, under Stripe's ids, so Checkout and Billing can sell it. */
  private hosted(auth: PaymentsAuth) {
    return auth.processor === 'stripe' && this.processors ? this.processors.hosted(auth) : null;
  }

  async createProduct(auth: PaymentsAuth, name: string): Promise<ProductType> {
    const id = (await this.hosted(auth)?.createProduct({ name }))?.id ?? prefixedId('prod', 14);
    const row = await catalogRepo.insertProduct(this.db, { id, account_id: auth.accountId, name, created_at: this.clock.now() });
    return { productId: row.id, name: row.name };
  }

  async listProducts(auth: PaymentsAuth): Promise<ProductType[]> {
    return (await catalogRepo.listProducts(this.db, auth.accountId)).map((r) => ({ productId: r.id, name: r.name }));
  }

  async createPrice(auth: PaymentsAuth, productId: string, body: CreatePriceBodyType): Promise<PriceType> {
    await this.product(auth, productId);
    const currency = currencyOrThrow(body.currency);
    const hosted = await this.hosted(auth)?.createPrice({ productId, currency, unitAmount: BigInt(body.unitAmount), interval: body.interval ?? null });
    const row = await catalogRepo.insertPrice(this.db, {
      id: hosted?.id ?? prefixedId('price', 14),
      account_id: auth.accountId,
      product_id: productId,
      currency,
      unit_amount: BigInt(body.unitAmount),
      type: body.interval ? 'recurring' : 'one_time',
      recurring_interval: body.interval ?? null,
      created_at: this.clock.now(),
    });
    return toPrice(row);
  }

  async listPrices(auth: PaymentsAuth, productId: string): Promise<PriceType[]> {
    await this.product(auth, productId);
    return (await catalogRepo.listPrices(this.db, auth.accountId, productId)).map(toPrice);
  }

  async price(auth: PaymentsAuth, priceId: string) {
    const row = await catalogRepo.findPrice(this.db, auth.accountId, priceId);
    if (!row) throw notFound(`Price "${priceId}"`);
    return row;
  }

  async listConnected(auth: PaymentsAuth) {
    return (await catalogRepo.listConnected(this.db, auth.accountId)).map(toConnected);
  }

  async getConnected(auth: PaymentsAuth, id: string) {
    const row = await catalogRepo.findConnected(this.db, auth.accountId, id);
    if (!row) throw notFound(`Connected account "${id}"`);
    return toConnected(row);
  }

  /** Operator: registers a Connect account for a payments account; the first becomes the default. */
  async createConnected(accountId: string, body: CreateConnectedAccountBodyType) {
    if (!(await accountsRepo.find(this.db, accountId))) throw notFound(`Payments account "${accountId}"`);
    const bps = Math.round(body.percentageCut * 100);
    // Checked here rather than with multipleOf: 20.1 / 0.01 is not a whole number in floating point.
    if (Math.abs(body.percentageCut * 100 - bps) > 1e-6) {
      throw new AppError('VALIDATION_ERROR', 'percentageCut may have at most 2 decimals', { details: [{ path: '/percentageCut', message: 'at most 2 decimals' }] });
    }
    return this.db.transaction().execute(async (trx) => {
      const existing = await catalogRepo.listConnected(trx, accountId);
      const isDefault = body.isDefault ?? existing.length === 0;
      if (isDefault) await catalogRepo.clearDefaultConnected(trx, accountId);
      const row = await catalogRepo.insertConnected(trx, {
        id: body.paymentProcessorAccountId ?? prefixedId('acct', 16),
        account_id: accountId,
        cut_bps: bps,
        description: body.description ?? null,
        is_default: isDefault,
        created_at: this.clock.now(),
      });
      return toConnected(row);
    }).catch((err: unknown) => {
      if ((err as { code?: string }).code === '23505') throw new AppError('CONFLICT', `Connected account "${body.paymentProcessorAccountId}" is already registered`);
      throw err;
    });
  }

  /** The connected account a charge pays the partner's cut to, if any. */
  async defaultConnected(accountId: string, db: Kysely<Database> | Transaction<Database> = this.db) {
    return catalogRepo.defaultConnected(db, accountId);
  }

  private async product(auth: PaymentsAuth, productId: string) {
    const row = await catalogRepo.findProduct(this.db, auth.accountId, productId);
    if (!row) throw notFound(`Product "${productId}"`);
    return row;
  }
}
