import type { Kysely, Transaction } from 'kysely';
import type Stripe from 'stripe';
import type { StripeConfig } from '../../config.js';
import type { Database } from '../../platform/db/schema.js';
import { AppError } from '../../platform/errors.js';
import { loadStripeSdk } from './processor.stripe.sdk.js';

type Db = Kysely<Database> | Transaction<Database>;

/** Reads an account's Stripe secret key, through the caller's transaction when it holds one. */
export type StripeSecretLoader = (accountId: string, db: Db | undefined) => Promise<string | null>;

/**
 * One Stripe SDK client per payments account, built from its sealed secret key on first use and
 * kept, so the key is opened once per process rather than once per request. A secret key is fixed
 * when the account is created; there is no route that changes it, so nothing goes stale.
 */
export class StripeClients {
  private readonly clients = new Map<string, Promise<Stripe>>();

  constructor(
    readonly config: StripeConfig,
    private readonly loadSecret: StripeSecretLoader,
  ) {}

  client(accountId: string, db?: Db): Promise<Stripe> {
    let client = this.clients.get(accountId);
    if (!client) {
      client = this.build(accountId, db);
      this.clients.set(accountId, client);
      // A failed load (the database was away) is not kept, so the next request tries again.
      client.catch(() => this.clients.delete(accountId));
    }
    return client;
  }

  private async build(accountId: string, db: Db | undefined): Promise<Stripe> {
    const secret = await this.loadSecret(accountId, db);
    if (!secret) throw new AppError('PROCESSOR_ERROR', 'This Stripe payments account has no Stripe secret key; the operator must recreate it with stripeSecretKey');
    const StripeSdk = await loadStripeSdk();
    return new StripeSdk(secret, {
      host: this.config.host,
      port: this.config.port,
      protocol: this.config.protocol,
      timeout: this.config.timeoutMs,
      // The SDK retries dropped connections and Stripe's 409/429/5xx answers with the request's
      // idempotency key, so a retry can never take a payment twice.
      maxNetworkRetries: this.config.maxNetworkRetries,
      telemetry: false,
      appInfo: { name: 'almoner' },
    });
  }
}
