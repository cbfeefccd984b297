import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { hexDigestEquals, signPartnerRequest } from '../crypto/signing.js';
import { ipAllowed } from './auth.allowlist.js';
// Types only, so auth.ts, which calls these checks, and this file form no cycle at run time.
import type { AuthDeps, ResolvedKey } from './auth.js';

/**
 * The partner API's request checks, each on its own header: the key (X-Partner-Key, on hmac,
 * hmacSecret and widget routes), the time (X-Timestamp) and the signature (X-Signature) of signed ones.
 */

export const SIGNATURE_WINDOW_SECONDS = 300;
const KEY_FORMAT = /^(pk|sk)_(test|live)_[0-9a-f]{64}$/;

export function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export async function resolvePartnerKey(deps: AuthDeps, request: FastifyRequest): Promise<ResolvedKey> {
  const value = header(request, 'x-partner-key');
  if (!value) throw new AppError('MISSING_API_KEY', 'Send your API key in the X-Partner-Key header');
  if (!KEY_FORMAT.test(value)) {
    throw new AppError('INVALID_API_KEY', 'X-Partner-Key is not a valid API key (pk_/sk_ + test|live + 64 hex)');
  }
  const environment = value.includes('_live_') ? 'production' : 'sandbox';
  if (!deps.keyEnvironments.includes(environment)) {
    throw new AppError(
      'KEY_ENVIRONMENT_MISMATCH',
      `This server accepts only ${deps.keyEnvironments.join(' and ')} keys; ${environment === 'production' ? 'live' : 'test'} keys belong to the ${environment} host`,
    );
  }
  const key = await deps.resolveKey(value);
  if (!key) throw new AppError('INVALID_API_KEY', 'X-Partner-Key is not a known API key');
  if (key.revokedAt) throw new AppError('KEY_REVOKED', 'This API key was revoked; create a new key pair');
  if (!key.isActive) throw new AppError('KEY_INACTIVE', 'This API key is deactivated; reactivate it or use another key');
  if (key.expiresAt && key.expiresAt.getTime() <= deps.clock.now().getTime()) {
    throw new AppError('KEY_EXPIRED', 'This API key has expired; create a new key pair');
  }
  const partner = key.partner;
  if (partner.status === 'SUSPENDED') {
    throw new AppError('PARTNER_NOT_ACTIVE', 'This partner account is suspended; contact support');
  }
  // A partner awaiting approval may already work in the sandbox; production needs approval.
  if (key.environment === 'production' && partner.status !== 'ACTIVE') {
    throw new AppError('PARTNER_NOT_ACTIVE', 'Production access needs an approved (ACTIVE) partner account');
  }
  if (!ipAllowed(partner.allowlist, request.ip)) {
    throw new AppError('IP_NOT_ALLOWED', `Requests from ${request.ip} are not in this partner's IP allowlist`);
  }
  return key;
}

export function checkTimestamp(deps: AuthDeps, request: FastifyRequest): string {
  const ts = header(request, 'x-timestamp');
  if (ts === undefined || ts === '') {
    throw new AppError('MISSING_TIMESTAMP', 'Send the Unix time in seconds in the X-Timestamp header');
  }
  if (!/^\d{1,12}$/.test(ts)) {
    throw new AppError('INVALID_TIMESTAMP', 'X-Timestamp must be the Unix time in whole seconds (digits only)');
  }
  const skew = Math.abs(Math.floor(deps.clock.now().getTime() / 1000) - Number(ts));
  if (skew > SIGNATURE_WINDOW_SECONDS) {
    throw new AppError(
      'TIMESTAMP_OUT_OF_RANGE',
      `X-Timestamp is ${skew} s away from server time; it must be within ${SIGNATURE_WINDOW_SECONDS} s (check the clock)`,
    );
  }
  return ts;
}

export function verifySignature(request: FastifyRequest, key: ResolvedKey, timestamp: string): void {
  const provided = header(request, 'x-signature');
  if (!provided) throw new AppError('MISSING_SIGNATURE', 'Send the request signature in the X-Signature header');
  let secret = key.hmacSecret;
  if (secret === null) {
    // Legacy pairs sign with the sk_ value itself; only possible when the caller sent the sk_.
    if (key.kind !== 'secret') throw new AppError('INVALID_SIGNATURE', 'The signature does not match the request');
    secret = header(request, 'x-partner-key')!;
    request.legacySigning = true;
  }
  const expected = signPartnerRequest({
    secret,
    timestamp,
    method: request.method,
    // raw.url is the request target exactly as sent (path + query), before any decoding.
    pathWithQuery: request.raw.url ?? request.url,
    body: request.rawBody,
  });
  if (!hexDigestEquals(expected, provided)) {
    throw new AppError(
      'INVALID_SIGNATURE',
      'The signature does not match the request: sign timestamp + METHOD + path?query + sha256(body) with your HMAC secret',
    );
  }
}
