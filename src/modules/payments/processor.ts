import { prefixedId } from '../../platform/crypto/ids.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import { AppError } from '../../platform/errors.js';
import { SandboxMethods, type MethodOps } from './processor.methods.js';
import { sandboxCharges, type ChargeOps } from './processor.charges.js';

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

/** Offline processor: ids shaped like Stripe's, nothing leaves the process. */
export class SandboxProcessor extends SandboxMethods implements PaymentProcessor {
  async createCustomer(): Promise<{ id: string }> {
    return { id: prefixedId('cus', 14) };
  }

  async updateCustomer(): Promise<void> {}

  charge = sandboxCharges.charge;
  settle = sandboxCharges.settle;
}

export class Processors {
  private readonly sandbox = new SandboxProcessor();

  for(auth: Pick<PaymentsAuth, 'processor'>): PaymentProcessor {
    if (auth.processor === 'sandbox') return this.sandbox;
    throw new AppError('SERVICE_UNAVAILABLE', 'The Stripe processor is not available on this server yet; use a sandbox account');
  }
}
