import type { Kysely, Transaction } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import { prefixedId, randomHex } from '../../platform/crypto/ids.js';
import type { SecretBox } from '../../platform/crypto/secret-box.js';
import { hexDigestEquals, hmacSha256Hex } from '../../platform/crypto/signing.js';
import type { Database, Environment } from '../../platform/db/schema.js';
import type { ProcessorKind } from '../../platform/db/schema.payments.js';
import { AppError, notFound } from '../../platform/errors.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import { accountsRepo } from './accounts.repo.js';
import type { PaymentsTokens } from './payments.tokens.js';

/** Contract B3.1: the epoch must be under 60 s old, and at most 5 s in the future (clock skew). */
export const EPOCH_MAX_AGE_SECONDS = 60;
export const EPOCH_MAX_FUTURE_SECONDS = 5;


const secretPurpose = (accountId: string) => `payments_accounts.secret:${accountId}`;
const processorPurpose = (accountId: string) => `payments_accounts.processor_secret:${accountId}`;

// One message for every authenticate failure (contract B3.1: 401 "Unauthorized"), so the answer
// does not tell which accounts exist; the details say what to check.
const AUTH_FAILED = 'Unauthorized: hmac must be hex(HMAC-SHA256(secret key, String(hashEpoch))) for this accountId, with hashEpoch the current Unix time in seconds (less than 60 s old)';
const authFailed = () => new AppError('UNAUTHORIZED', AUTH_FAILED);

export interface CreateAccountInput {
  environment: Environment;
  processor?: ProcessorKind;
  description?: string | null;
  /** Stripe processor: the platform's Stripe keys for this account. */
  stripeSecretKey?: string;
  stripePublishableKey?: string;
}

export class PaymentsAccountsService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly box: SecretBox,
    private readonly tokens: PaymentsTokens,
    private readonly clock: Clock,
  ) {}

  /** Creates an account; the secret key is in this answer only. */
  async create(partnerId: string, input: CreateAccountInput) {
    const processor = input.processor ?? 'sandbox';
    if (processor === 'stripe' && (!input.stripeSecretKey || !input.stripePublishableKey)) {
      throw new AppError('VALIDATION_ERROR', 'A stripe account needs stripeSecretKey and stripePublishableKey');
    }
    const live = input.environment === 'production';
    const id = prefixedId('acct', 16);
    const secretKey = `psk_${live ? 'live' : 'test'}_${randomHex(24)}`;
    const publicKey = processor === 'stripe' ? input.stripePublishableKey! : `pk_${live ? 'live' : 'test'}_${prefixedId('x', 24).slice(2)}`;
    if (!(await accountsRepo.partnerExists(this.db, partnerId))) throw notFound(`Partner "${partnerId}"`);
    return this.db.transaction().execute(async (trx) => {
      const partnerNumber = await accountsRepo.partnerNumber(trx, partnerId);
      const row = await accountsRepo.insert(trx, {
        id,
        partner_id: partnerId,
        environment: input.environment,
        processor,
        description: input.description ?? null,
        secret_sealed: this.box.seal(secretKey, secretPurpose(id)),
        public_key: publicKey,
        processor_secret_sealed: input.stripeSecretKey ? this.box.seal(input.stripeSecretKey, processorPurpose(id)) : null,
      });
      return { accountId: row.id, secretKey, publicKey, partnerNumber, environment: row.environment, processor: row.processor };
    });
  }

  async listForPartner(partnerId: string) {
    if (!(await accountsRepo.partnerExists(this.db, partnerId))) throw notFound(`Partner "${partnerId}"`);
    const rows = await accountsRepo.listForPartner(this.db, partnerId);
    return rows.map((r) => ({
      accountId: r.id,
      environment: r.environment,
      processor: r.processor,
      description: r.description,
      publicKey: r.public_key,
      isActive: r.is_active,
      createdAt: r.created_at.toISOString(),
    }));
  }

  /** The processor secret (a Stripe secret key) of an account, for its processor adapter. */
  async processorSecret(accountId: string, db: Kysely<Database> | Transaction<Database> = this.db): Promise<string | null> {
    const row = await accountsRepo.find(db, accountId);
    return row?.processor_secret_sealed ? this.box.open(row.processor_secret_sealed, processorPurpose(accountId)) : null;
  }

  /** Contract B3.1: HMAC of the epoch in, a 7800 s token and the publishable key out. */
  async authenticate(accountId: string, hashEpoch: number, hmac: string) {
    const account = await accountsRepo.find(this.db, accountId);
    if (!account || !account.is_active) throw authFailed();
    const now = this.clock.now().getTime() / 1000;
    const age = now - hashEpoch;
    if (age >= EPOCH_MAX_AGE_SECONDS || age < -EPOCH_MAX_FUTURE_SECONDS) {
      throw new AppError('UNAUTHORIZED', `Unauthorized: hashEpoch is ${Math.round(age)} s from server time; it must be the current Unix time in seconds (under 60 s old)`);
    }
    const secret = this.box.open(account.secret_sealed, secretPurpose(accountId));
    if (!hexDigestEquals(hmacSha256Hex(secret, String(hashEpoch)), hmac)) throw authFailed();
    this.assertPartnerMayUse(account);
    const { token } = await this.tokens.issue({ partnerId: account.partner_number, accountId, name: account.partner_name });
    return { token, publicKey: account.public_key };
  }

  /** The bearer check of every other route. */
  async resolveToken(token: string): Promise<PaymentsAuth> {
    const claims = await this.tokens.verify(token);
    const account = await accountsRepo.find(this.db, claims.accountId);
    if (!account || !account.is_active || account.partner_number !== claims.partnerId) {
      throw new AppError('UNAUTHORIZED', 'This token belongs to an account that no longer exists or is deactivated');
    }
    this.assertPartnerMayUse(account);
    return {
      accountId: account.id,
      partnerId: account.partner_id,
      partnerNumber: account.partner_number,
      environment: account.environment,
      processor: account.processor,
    };
  }

  /** Operator: turn the rewards bridge on or off (donations reward the donor with tokens). */
  async setDonationRewards(accountId: string, enabled: boolean) {
    await this.get(accountId);
    await this.db.updateTable('payments_accounts').set({ donation_rewards: enabled }).where('id', '=', accountId).execute();
    return { accountId, donationRewards: enabled };
  }

  /** Who acts for an account when no token is involved (a payment page confirming, a settlement). */
  async authFor(accountId: string, db: Kysely<Database> | Transaction<Database> = this.db): Promise<PaymentsAuth> {
    const a = await this.get(accountId, db);
    return { accountId, partnerId: a.partner_id, partnerNumber: a.partner_number, environment: a.environment, processor: a.processor };
  }

  async get(accountId: string, db: Kysely<Database> | Transaction<Database> = this.db) {
    const row = await accountsRepo.find(db, accountId);
    if (!row) throw notFound(`Payments account "${accountId}"`);
    return row;
  }

  private assertPartnerMayUse(account: { partner_status: string; environment: Environment }) {
    if (account.partner_status === 'SUSPENDED') throw new AppError('PARTNER_NOT_ACTIVE', 'This partner account is suspended; contact support');
    if (account.environment === 'production' && account.partner_status !== 'ACTIVE') {
      throw new AppError('PARTNER_NOT_ACTIVE', 'Production payments need an approved (ACTIVE) partner account');
    }
  }
}
