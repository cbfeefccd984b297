import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const EMPTY_BODY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function hmacSha256Hex(key: string | Buffer, message: string | Buffer): string {
  return createHmac('sha256', key).update(message).digest('hex');
}

/**
 * Partner API request signature (contract A4.2): HMAC-SHA256 keyed by the secret *string* over
 * timestamp || METHOD || pathWithQuery || sha256hex(rawBody), no separators.
 */
export function signPartnerRequest(input: {
  secret: string;
  timestamp: string;
  method: string;
  pathWithQuery: string;
  body?: string | Buffer | undefined;
}): string {
  const bodyHash = input.body === undefined || input.body.length === 0 ? EMPTY_BODY_SHA256 : sha256Hex(input.body);
  return hmacSha256Hex(input.secret, `${input.timestamp}${input.method.toUpperCase()}${input.pathWithQuery}${bodyHash}`);
}

/**
 * Constant-time comparison of two hex strings that never throws: a length mismatch or non-hex input
 * is simply "not equal". Comparing equal-length digests keeps the timing independent of content.
 */
export function hexDigestEquals(expectedHex: string, candidate: string | undefined): boolean {
  if (typeof candidate !== 'string') return false;
  const normalized = candidate.toLowerCase();
  if (normalized.length !== expectedHex.length || !/^[0-9a-f]*$/.test(normalized)) return false;
  return timingSafeEqual(Buffer.from(expectedHex, 'utf8'), Buffer.from(normalized, 'utf8'));
}

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ab.length !== bb.length) {
    // Still spend the comparison so a short guess is not cheaper to reject.
    timingSafeEqual(ab, ab);
    return false;
  }
  return timingSafeEqual(ab, bb);
}
