import { ACH_SETTLEMENT_DAYS, DECLINE_MESSAGES, TEST_BANK_ACCOUNTS, type CardOutcome } from './sandbox-cards.js';

export interface ChargeRequest {
  paymentMethod: { id: string; type: 'card' | 'us_bank_account'; sandboxOutcome: string | null; bankLast4: string | null };
  gross: bigint;
  currency: string;
  description: string | null;
  statementDescriptor: string | null;
  /** Connect destination charge: the partner's account and its cut as the application fee. */
  connectedAccountId: string | null;
  partnerCut: bigint;
  metadata: Record<string, string>;
  /** The processor's customer the method is saved on; null for a guest charge. */
  customerId?: string | null;
  /**
   * Sent to the processor with the charge, so a retry of the same charge (ours after a failure, or
   * the SDK's after a dropped connection) is answered with the first attempt's result.
   */
  idempotencyKey?: string;
}

/** processorRef: the processor's own id of the payment (a Stripe PaymentIntent), which its events name. */
export type ChargeResult =
  | { status: 'succeeded'; processorRef?: string | null }
  | { status: 'pending'; settlesInDays: number; processorRef?: string | null }
  | { status: 'failed'; code: string; message: string; processorRef?: string | null };

/**
 * Thrown by `charge` when the processor certainly took nothing: it refused the request before
 * acting on it (invalid, rate limited, our credentials refused) or was never reached because the
 * request could not be built. Any other error leaves the outcome unknown.
 */
export class ChargeNotSent extends Error {
  constructor(readonly error: Error) {
    super(error.message);
    this.name = 'ChargeNotSent';
  }
}

export interface ChargeOps {
  charge(request: ChargeRequest): Promise<ChargeResult>;
  /**
   * What became of a charge sent earlier whose answer was lost, found by the charge id it carried
   * in its metadata: null when the processor has no payment for it. For charges older than the
   * processor keeps idempotency keys (a retry under the same key would pay again).
   */
  lookup(chargeId: string): Promise<ChargeResult | null>;
  /** How a pending bank debit ends (sandbox: by the test account number). */
  settle(paymentMethod: ChargeRequest['paymentMethod']): Promise<{ status: 'succeeded' } | { status: 'failed'; code: string; message: string }>;
}

/** Stripe test-mode behaviour: the card's test number decides; bank debits settle days later. */
export const sandboxCharges: ChargeOps = {
  async charge(request) {
    if (request.paymentMethod.type === 'us_bank_account') return { status: 'pending', settlesInDays: ACH_SETTLEMENT_DAYS };
    const outcome = (request.paymentMethod.sandboxOutcome ?? 'succeeds') as CardOutcome;
    if (outcome === 'succeeds') return { status: 'succeeded' };
    return { status: 'failed', code: outcome, message: DECLINE_MESSAGES[outcome] };
  },
  async lookup() {
    // Sandbox charges are decided in the transaction that records them: none is ever left in doubt.
    return null;
  },
  async settle(paymentMethod) {
    const outcome = paymentMethod.sandboxOutcome ?? 'succeeds';
    if (outcome === 'succeeds') return { status: 'succeeded' };
    const messages: Record<string, string> = {
      no_account: 'The bank account could not be located.',
      account_closed: 'The bank account has been closed.',
      insufficient_funds: 'The bank account has insufficient funds.',
    };
    return { status: 'failed', code: outcome, message: messages[outcome] ?? 'The bank debit failed.' };
  },
};

/** Which ACH test outcome a bank account number stands for; real-looking numbers succeed. */
export const bankOutcome = (accountNumber: string) => TEST_BANK_ACCOUNTS.get(accountNumber) ?? 'succeeds';
