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
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.`).update(rawBody).digest('base64')}`;
}

/** All headers a delivery is signed with; `secrets` holds the current secret and, while rotating, the previous one. */
export function signedDeliveryHeaders(secrets: string[], eventId: string, timestampSeconds: number, rawBody: string | Buffer): Record<string, string> {
  const ts = String(timestampSeconds);
  return {
    'content-type': 'application/json',
    'user-agent': SIR_USER_AGENT,
    'x-sir-timestamp': ts,
    'x-sir-signature': secrets.map((s) => sirSignature(s, ts, rawBody)).join(' '),
    'webhook-id': eventId,
    'webhook-timestamp': ts,
    'webhook-signature': secrets.map((s) => standardSignature(s, eventId, ts, rawBody)).join(' '),
  };
}
