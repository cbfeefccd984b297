import { randomUUID } from 'node:crypto';
import { prefixedId } from '../../platform/crypto/ids.js';
import { AppError } from '../../platform/errors.js';
import {
  luhnValid,
  MICRO_DEPOSITS,
  TEST_BANK_ACCOUNTS,
  TEST_CARD_NUMBERS,
  TEST_PAYMENT_METHOD_IDS,
  TEST_ROUTING_NUMBER,
  type TestCard,
} from './sandbox-cards.js';

/**
 * Payment methods on the processor's side: setup intents, cards, bank accounts and Plaid. The
 * processor owns the instruments; the payments service owns our rows about them, so everything
 * here is in our own terms (no Stripe object crosses this line).
 */

/** What a browser form collected. Only the sandbox ever sees raw numbers: with Stripe, Stripe.js does. */
export interface CardEntry {
  number: string;
  expMonth: number;
  expYear: number;
  cvc?: string | undefined;
}

export type CardSource = { card: CardEntry } | { paymentMethod: string };

export interface ProcessorCard {
  id: string;
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
  /** The sandbox test outcome the card stands for (charges use it); null on a real processor. */
  sandboxOutcome: string | null;
}

export interface ProcessorBankAccount {
  id: string;
  bankName: string;
  last4: string;
  routingNumber: string;
  holderName: string | null;
  verified: boolean;
  sandboxOutcome: string | null;
}

export interface MethodOps {
  createSetupIntent(input: { customerId: string | null }): Promise<{ id: string; clientSecret: string }>;
  /**
   * Confirms a setup intent with a card. With Stripe the browser does this through Stripe.js and we
   * only learn the result; the sandbox stands in for both, so its hosted page calls this.
   */
  confirmSetupIntent(setupIntentId: string, source: CardSource, now: Date): Promise<{ card: ProcessorCard; requiresAuthentication: boolean }>;
  /** The card a payment page entered while confirming a payment intent (sandbox only, as for setup intents). */
  confirmPaymentIntentCard(paymentIntentId: string, source: CardSource, now: Date): Promise<{ card: ProcessorCard; requiresAuthentication: boolean }>;
  attachBankToken(customerId: string, token: string): Promise<ProcessorBankAccount>;
  /** true when the two amounts match the micro-deposits; counting failures is the caller's job. */
  verifyMicroDeposits(customerId: string, bankAccountId: string, amounts: readonly number[]): Promise<boolean>;
  plaidLinkToken(input: { customerId: string; clientName: string }): Promise<{ environment: string; linkToken: string }>;
  plaidExchange(customerId: string, input: { publicToken: string; accountId: string }): Promise<ProcessorBankAccount>;
  setDefaultPaymentMethod(customerId: string, paymentMethodId: string): Promise<void>;
  detachPaymentMethod(customerId: string, paymentMethodId: string): Promise<void>;
}

const invalid = (path: string, message: string) => new AppError('VALIDATION_ERROR', message, { details: [{ path, message }] });

const TEST_PM_LIST = [...TEST_PAYMENT_METHOD_IDS.keys()].join(', ');
export const SANDBOX_BANK_NAME = 'STRIPE TEST BANK';
const BANK_TOKEN = /^btok_([A-Za-z0-9_-]{4,400})$/;

/**
 * A sandbox bank token carries the test account it stands for, so any server process can redeem
 * it without shared state. The account numbers are Stripe's public test numbers, nothing secret.
 * Unlike Stripe's, such a token can be redeemed more than once.
 */
export function createSandboxBankToken(input: { routingNumber: string; accountNumber: string; accountHolderName: string }): { id: string } {
  if (input.routingNumber !== TEST_ROUTING_NUMBER) {
    throw invalid('/routingNumber', `The sandbox knows one routing number, ${TEST_ROUTING_NUMBER} (Stripe's test bank)`);
  }
  if (!TEST_BANK_ACCOUNTS.has(input.accountNumber)) {
    throw invalid('/accountNumber', `Use one of the test account numbers: ${[...TEST_BANK_ACCOUNTS.keys()].join(', ')} (000123456789 succeeds)`);
  }
  const payload = Buffer.from(JSON.stringify([input.accountNumber, input.accountHolderName])).toString('base64url');
  return { id: `btok_${payload}` };
}

function readBankToken(token: string): { accountNumber: string; holderName: string } {
  const bad = () => invalid('/token', 'token is not a sandbox bank token: create one with POST /sandbox/bank-tokens');
  const m = BANK_TOKEN.exec(token);
  if (!m) throw bad();
  try {
    const [accountNumber, holderName] = JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8')) as unknown[];
    if (typeof accountNumber !== 'string' || typeof holderName !== 'string' || !TEST_BANK_ACCOUNTS.has(accountNumber)) throw bad();
    return { accountNumber, holderName };
  } catch {
    throw bad();
  }
}

function testCard(source: CardSource, now: Date): { card: TestCard; expMonth: number; expYear: number } {
  if ('paymentMethod' in source) {
    const card = TEST_PAYMENT_METHOD_IDS.get(source.paymentMethod);
    if (!card) throw invalid('/paymentMethod', `Unknown test payment method "${source.paymentMethod}"; use one of ${TEST_PM_LIST}`);
    // A pm_card_* id names no expiry date; one well ahead keeps the saved card chargeable.
    return { card, expMonth: 12, expYear: now.getUTCFullYear() + 3 };
  }
  const { number: raw, expMonth, cvc } = source.card;
  const number = raw.replace(/[\s-]/g, '');
  if (!luhnValid(number)) throw invalid('/card/number', 'The card number is not a valid card number (check the digits)');
  const card = TEST_CARD_NUMBERS.get(number);
  if (!card) throw invalid('/card/number', 'The sandbox takes test card numbers only, e.g. 4242 4242 4242 4242 (succeeds) or 4000 0000 0000 0002 (declines)');
  // Forms often send a two-digit year.
  const expYear = source.card.expYear < 100 ? 2000 + source.card.expYear : source.card.expYear;
  const thisMonth = now.getUTCFullYear() * 12 + now.getUTCMonth();
  if (expYear * 12 + (expMonth - 1) < thisMonth) throw invalid('/card/expYear', `The card expired in ${String(expMonth).padStart(2, '0')}/${expYear}`);
  if (expYear > now.getUTCFullYear() + 50) throw invalid('/card/expYear', 'The expiry year is too far in the future');
  if (cvc === undefined) throw invalid('/card/cvc', 'cvc is required: the 3 or 4 digits on the card (any 3 digits for a test card)');
  if (!/^\d{3,4}$/.test(cvc)) throw invalid('/card/cvc', 'cvc must be 3 or 4 digits');
  return { card, expMonth, expYear };
}

/** Offline payment methods that behave like Stripe's test mode. */
export class SandboxMethods implements MethodOps {
  async createSetupIntent(): Promise<{ id: string; clientSecret: string }> {
    const id = prefixedId('seti', 24);
    return { id, clientSecret: `${id}_secret_${prefixedId('s', 24).slice(2)}` };
  }

  async confirmSetupIntent(_setupIntentId: string, source: CardSource, now: Date) {
    const { card, expMonth, expYear } = testCard(source, now);
    return {
      card: { id: prefixedId('pm', 24), brand: card.brand, last4: card.last4, expMonth, expYear, sandboxOutcome: card.outcome },
      // A declining test card still attaches: the sandbox saves it so the decline can be met at
      // charge time, the way Stripe's 4000 0000 0000 0341 behaves. Only 3-D Secure cards stop here.
      requiresAuthentication: card.outcome === 'authentication_required',
    };
  }

  async confirmPaymentIntentCard(paymentIntentId: string, source: CardSource, now: Date) {
    return this.confirmSetupIntent(paymentIntentId, source, now);
  }

  async attachBankToken(_customerId: string, token: string): Promise<ProcessorBankAccount> {
    const { accountNumber, holderName } = readBankToken(token);
    return {
      id: prefixedId('ba', 24),
      bankName: SANDBOX_BANK_NAME,
      last4: accountNumber.slice(-4),
      routingNumber: TEST_ROUTING_NUMBER,
      holderName,
      verified: false,
      sandboxOutcome: TEST_BANK_ACCOUNTS.get(accountNumber)!,
    };
  }

  async verifyMicroDeposits(_customerId: string, _bankAccountId: string, amounts: readonly number[]): Promise<boolean> {
    // Either order: the donor reads two lines off a statement and cannot tell which came first.
    const sorted = [...amounts].sort((a, b) => a - b);
    return sorted.length === MICRO_DEPOSITS.length && sorted.every((v, i) => v === MICRO_DEPOSITS[i]);
  }

  async plaidLinkToken(_input?: { customerId: string; clientName: string }): Promise<{ environment: string; linkToken: string }> {
    return { environment: 'sandbox', linkToken: `link-sandbox-${randomUUID()}` };
  }

  async plaidExchange(_customerId: string, input: { publicToken: string; accountId: string }): Promise<ProcessorBankAccount> {
    if (!/^public-sandbox-[A-Za-z0-9-]{1,200}$/.test(input.publicToken)) {
      throw invalid('/values', 'values must be a Plaid sandbox public token (public-sandbox-...), as Plaid Link returns in its sandbox');
    }
    // Plaid has already proven the donor owns the account, so no micro-deposits are needed.
    return {
      id: prefixedId('ba', 24),
      bankName: SANDBOX_BANK_NAME,
      last4: '6789',
      routingNumber: TEST_ROUTING_NUMBER,
      holderName: null,
      verified: true,
      sandboxOutcome: 'succeeds',
    };
  }

  async setDefaultPaymentMethod(): Promise<void> {}

  async detachPaymentMethod(): Promise<void> {}
}
