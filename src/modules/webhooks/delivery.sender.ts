import type { Clock } from '../../platform/clock.js';
import type { DeliveryClient } from './delivery.http.js';
import type { AttemptResult } from './delivery.policy.js';
import type { ClaimedDelivery, DeliveryTarget } from './dispatch.repo.js';
import { deliverySigner, type DeliverySigner } from './webhooks.signing.js';
import type { WebhooksService } from './webhooks.service.js';

export interface SendOptions {
  timeoutMs: number;
  maxResponseBytes: number;
  allowInsecureSandbox: boolean;
}

/** Builds, signs and sends one attempt of a delivery. */
export class DeliverySender {
  private readonly signers = new Map<string, DeliverySigner>();
  private readonly now: () => Date;

  constructor(
    private readonly webhooks: WebhooksService,
    private readonly clock: Clock,
    private readonly client: DeliveryClient,
    private readonly options: SendOptions,
  ) {
    this.now = () => this.clock.now();
  }

  async send(delivery: ClaimedDelivery, attemptedAt: Date): Promise<AttemptResult> {
    const endpoint = delivery.endpoint;
    const body = Buffer.from(
      `{"id":${JSON.stringify(delivery.event_id)},"type":${JSON.stringify(delivery.event_type)},"createdAt":"${delivery.event_created_at_iso}","data":${delivery.data_text}}`,
    );
    const signed = this.signerFor(endpoint)(delivery.event_id, Math.floor(attemptedAt.getTime() / 1000), body);
    // The partner's own headers first, so none of them can replace a signature.
    const headers = hasKeys(endpoint.headers) ? Object.assign({}, endpoint.headers, signed) : signed;
    return this.client.post(endpoint.url, headers, body, {
      timeoutMs: this.options.timeoutMs,
      maxResponseBytes: this.options.maxResponseBytes,
      strict: endpoint.environment === 'production' || !this.options.allowInsecureSandbox,
      now: this.now,
    });
  }

  /**
   * Opening a sealed secret is an AES-GCM decryption, a noticeable share of a send's CPU when a
   * busy endpoint gets thousands a second; the signer (the opened secrets, ready to sign with) is
   * kept per sealed value, so a rotation (a new sealed value) or the end of a grace period (part
   * of the key) takes effect at once.
   */
  private signerFor(endpoint: DeliveryTarget): DeliverySigner {
    const graceOver = !endpoint.previous_secret_expires_at || endpoint.previous_secret_expires_at <= this.clock.now();
    const key = `${endpoint.id} ${endpoint.secret_sealed} ${graceOver ? '' : (endpoint.previous_secret_sealed ?? '')}`;
    let signer = this.signers.get(key);
    if (!signer) {
      signer = deliverySigner(this.webhooks.signingSecrets(endpoint));
      if (this.signers.size >= 1000) this.signers.clear();
      this.signers.set(key, signer);
    }
    return signer;
  }
}

function hasKeys(o: Record<string, string>): boolean {
  for (const _ in o) return true;
  return false;
}
