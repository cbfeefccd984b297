import type { Kysely, Transaction } from 'kysely';
import { prefixedId } from '../../platform/crypto/ids.js';
import type { Database } from '../../platform/db/schema.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import { AppError } from '../../platform/errors.js';
import type { PlaidClient } from './plaid.client.js';
import { SandboxMethods, type MethodOps, type ProcessorBankAccount } from './processor.methods.js';
import { sandboxCharges, type ChargeOps } from './processor.charges.js';
import type { HostedOps } from './processor.hosted.js';
import { StripeProcessor } from './processor.stripe.js';
import { StripeHosted } from './processor.stripe.billing.js';
import type { StripeClients } from './processor.stripe.client.js';
import { SANDBOX_BANK_NAME } from './processor.methods.js';

/**
 * What the payments domain needs from a payment processor. Domain code talks only to this; the
 * sandbox implements it offline, the Stripe adapter maps it onto Stripe's API, and neither leaks
 * its own types through it. The interface grows by area (customers here; payment methods, setup
 * intents and bank accounts; charges) so each area's operations sit beside its service.
 */
export interface CustomerOps {
  createCustomer(input: { email: string | null; name: string | null; externalId: string | null }): Promise<{ id: string }>;
  updateCustomer(id: string, input: { email?: string | null; name?: string | null }): Promise<void>;
}

export type PaymentProcessor = CustomerOps & ChargeOps & MethodOps;

type Db = Kysely<Database> | Transaction<Database>;

/** Offline processor: ids shaped like Stripe's, nothing leaves the process. */
export class SandboxProcessor extends SandboxMethods implements PaymentProcessor {
  /** With Plaid configured, sandbox accounts link real (Plaid sandbox) Items instead of the offline stand-in. */
  constructor(private readonly plaid: PlaidClient | null = null) {
    super();
  }

  async createCustomer(): Promise<{ id: string }> {
    return { id: prefixedId('cus', 14) };
  }

  async updateCustomer(): Promise<void> {}

  charge = sandboxCharges.charge;
  settle = sandboxCharges.settle;
  lookup = sandboxCharges.lookup;

  override async plaidLinkToken(input: { customerId: string; clientName: string }): Promise<{ environment: string; linkToken: string }> {
    if (!this.plaid) return super.plaidLinkToken();
    return { environment: this.plaid.environment, linkToken: await this.plaid.linkToken(input) };
  }

  override async plaidExchange(customerId: string, input: { publicToken: string; accountId: string }): Promise<ProcessorBankAccount> {
    if (!this.plaid) return super.plaidExchange(customerId, input);
    const linked = await this.plaid.exchange(input.publicToken, input.accountId);
    const numbers = await this.plaid.accountNumbers(linked);
    // Plaid has proven ownership; a sandbox account moves no money, so the debit always succeeds.
    return { id: prefixedId('ba', 24), bankName: numbers.name || SANDBOX_BANK_NAME, last4: numbers.last4, routingNumber: numbers.routing, holderName: null, verified: true, sandboxOutcome: 'succeeds' };
  }
}

export class Processors {
  private readonly sandbox: SandboxProcessor;

  constructor(
    private readonly stripe: StripeClients | null = null,
    private readonly plaid: PlaidClient | null = null,
  ) {
    this.sandbox = new SandboxProcessor(plaid);
  }

  /**
   * The account's processor. A Stripe client is built from the account's sealed secret key on first
   * use; inside a transaction pass it as `db`, so that first read does not wait for a second pool
   * connection while the transaction holds one.
   */
  for(auth: Pick<PaymentsAuth, 'processor' | 'accountId'>, db?: Db): PaymentProcessor {
    if (auth.processor === 'sandbox') return this.sandbox;
    const clients = this.stripeClients();
    return new StripeProcessor(() => clients.client(auth.accountId, db), this.plaid);
  }

  /** Stripe's own catalogue, pages and billing, for Stripe accounts only (the sandbox keeps these in our tables). */
  hosted(auth: Pick<PaymentsAuth, 'processor' | 'accountId'>, db?: Db): HostedOps {
    if (auth.processor !== 'stripe') throw new AppError('INVALID_STATE', 'Only Stripe accounts have hosted operations');
    const clients = this.stripeClients();
    return new StripeHosted(() => clients.client(auth.accountId, db));
  }

  private stripeClients(): StripeClients {
    if (!this.stripe) throw new AppError('SERVICE_UNAVAILABLE', 'The Stripe processor is not configured on this server; use a sandbox account');
    return this.stripe;
  }
}
