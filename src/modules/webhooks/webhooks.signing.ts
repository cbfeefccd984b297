import { createHmac } from 'node:crypto';

/**
 * Signatures on outgoing webhook deliveries. Every delivery carries two independent signatures
 * over the same raw body, so a receiver can verify with either:
 * - the Partner API's own (contract A9.2): X-SIR-Signature = "sha256=" + hex(HMAC-SHA256(secret
 *   string as text, `${X-SIR-Timestamp}.${rawBody}`)), with the secret exactly as shown at
 *   registration, `whsec_` prefix included;
 * - Standard Webhooks: webhook-signature = "v1," + base64(HMAC-SHA256(key, `${id}.${ts}.${body}`)),
 *   where the key is the base64 decoding of the secret after `whsec_`. Our secrets are `whsec_` + 64
 *   hex characters, which is also valid base64, so the official `standardwebhooks` library verifies
 *   them given the very same secret string.
 * During a secret rotation both the old and the new secret sign, space-separated.
 */
export const SIR_USER_AGENT = 'SIRGiving-Webhooks/1.0';

export function sirSignature(secret: string, timestamp: string, rawBody: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex')}`;
}

export function standardSignature(secret: string, id: string, timestamp: string, rawBody: string | Buffer): string {
  return `v1,${createHmac('sha256', standardKey(secret)).update(`${id}.${timestamp}.`).update(rawBody).digest('base64')}`;
}

const standardKey = (secret: string) => Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');

/** All headers a delivery is signed with; `secrets` holds the current secret and, while rotating, the previous one. */
export function signedDeliveryHeaders(secrets: string[], eventId: string, timestampSeconds: number, rawBody: string | Buffer): Record<string, string> {
  return deliverySigner(secrets)(eventId, timestampSeconds, rawBody);
}

export type DeliverySigner = (eventId: string, timestampSeconds: number, rawBody: string | Buffer) => Record<string, string>;

/**
 * signedDeliveryHeaders with the keys imported once: a dispatcher keeps one signer per endpoint
 * secret and signs thousands of deliveries a second with it.
 */
export function deliverySigner(secrets: string[]): DeliverySigner {
  const keys = secrets.map((s) => ({ sir: Buffer.from(s), standard: standardKey(s) }));
  return (eventId, timestampSeconds, rawBody) => {
    const ts = String(timestampSeconds);
    let sir = '';
    let standard = '';
    for (const k of keys) {
      sir += `${sir ? ' ' : ''}sha256=${createHmac('sha256', k.sir).update(`${ts}.`).update(rawBody).digest('hex')}`;
      standard += `${standard ? ' ' : ''}v1,${createHmac('sha256', k.standard).update(`${eventId}.${ts}.`).update(rawBody).digest('base64')}`;
    }
    return {
      'content-type': 'application/json',
      'user-agent': SIR_USER_AGENT,
      'x-sir-timestamp': ts,
      'x-sir-signature': sir,
      'webhook-id': eventId,
      'webhook-timestamp': ts,
      'webhook-signature': standard,
    };
  };
}
