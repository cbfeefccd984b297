import type { BlockList } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { Environment } from '../db/schema.js';
import { safeEqual } from '../crypto/signing.js';
import { checkTimestamp, header, resolvePartnerKey, verifySignature } from './auth.partner.js';
import type { RateLimiter } from './rate-limit.js';
import { nulError } from './raw-body.js';

export { isValidAllowlistEntry, parseAllowlist } from './auth.allowlist.js';
export { SIGNATURE_WINDOW_SECONDS } from './auth.partner.js';

/**
 * How a route authenticates. Every route states one in `config.auth`; a route without it is
 * refused at registration, so nothing becomes public by omission.
 * - hmac:        X-Partner-Key + X-Timestamp + X-Signature; pk_ or sk_ (contract A4.5)
 * - hmacSecret:  the same, and the key must be sk_ (pk_ gets 403)
 * - widget:      X-Partner-Key only (browser), CORS-enabled
 * - portal:      Authorization: Bearer <portal access token>
 * - operator:    Authorization: Bearer <operator token>
 * - payments:    Authorization: Bearer <Payments API token from /api/partners/{accountId}/authenticate>
 * - none:        public
 */
export type AuthMode = 'none' | 'hmac' | 'hmacSecret' | 'widget' | 'portal' | 'operator' | 'payments';

export interface PartnerContext {
  id: string;
  status: 'PENDING_APPROVAL' | 'ACTIVE' | 'SUSPENDED';
  rateLimit: number;
  enabledFeatures: string[];
  /** Parsed allowlist; null when the partner has none (all addresses allowed). */
  allowlist: BlockList | null;
}

export interface ResolvedKey {
  keyId: string;
  environment: Environment;
  kind: 'publishable' | 'secret';
  isActive: boolean;
  expiresAt: Date | null;
  revokedAt: Date | null;
  /** null for legacy pairs created before separate signing secrets existed. */
  hmacSecret: string | null;
  partner: PartnerContext;
}

export interface PartnerAuth {
  partnerId: string;
  environment: Environment;
  keyId: string;
  keyKind: 'publishable' | 'secret';
  partner: PartnerContext;
}

export interface PortalAuth {
  userId: string;
  partnerId: string;
}

/** Who a Payments API request acts for: one payments account of one partner. */
export interface PaymentsAuth {
  accountId: string;
  partnerId: string;
  partnerNumber: number;
  environment: Environment;
  processor: 'sandbox' | 'stripe';
}

export interface AuthDeps {
  clock: Clock;
  rateLimiter: RateLimiter;
  /** Looks up a key by the raw X-Partner-Key value; null when unknown. */
  resolveKey(headerValue: string): Promise<ResolvedKey | null>;
  verifyPortalToken(token: string): Promise<PortalAuth>;
  verifyPaymentsToken(token: string): Promise<PaymentsAuth>;
  operatorToken: string | undefined;
  onKeyUsed(keyId: string): void;
  /** Key environments this deployment serves (a sandbox host refuses live keys, and the reverse). */
  keyEnvironments: readonly Environment[];
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthMode;
  }
  interface FastifyRequest {
    partnerAuth?: PartnerAuth;
    portalAuth?: PortalAuth;
    paymentsAuth?: PaymentsAuth;
    /** Set for legacy keys so the response can carry a deprecation notice. */
    legacySigning?: boolean;
    resolvedKey?: ResolvedKey;
  }
}

function bearer(request: FastifyRequest): string | undefined {
  const value = header(request, 'authorization');
  if (!value) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return m?.[1];
}

async function applyRateLimit(deps: AuthDeps, reply: FastifyReply, partner: PartnerContext) {
  const result = await deps.rateLimiter.hit(partner.id, partner.rateLimit, deps.clock.now().getTime());
  reply.header('X-RateLimit-Limit', String(result.limit));
  reply.header('X-RateLimit-Remaining', String(result.remaining));
  reply.header('X-RateLimit-Reset', String(result.resetAt));
  if (!result.allowed) {
    const retryAfter = Math.max(1, Math.ceil(result.resetAt - deps.clock.now().getTime() / 1000));
    throw new AppError('RATE_LIMITED', `Rate limit of ${result.limit} requests per window exceeded; retry after ${retryAfter} s`, {
      headers: { 'Retry-After': String(retryAfter) },
    });
  }
}

export function installAuth(app: FastifyInstance, deps: AuthDeps) {
  app.addHook('onRoute', (route) => {
    if (!route.config?.auth) {
      throw new Error(`route ${route.method} ${route.url} must declare config.auth`);
    }
  });

  // Header-only checks first: they need no body, so a bad key is refused before the body is read.
  app.addHook('onRequest', async (request) => {
    const mode = request.routeOptions.config.auth;
    switch (mode) {
      case 'hmac':
      case 'hmacSecret': {
        const key = await resolvePartnerKey(deps, request);
        checkTimestamp(deps, request);
        request.resolvedKey = key;
        return;
      }
      case 'widget': {
        const key = await resolvePartnerKey(deps, request);
        request.resolvedKey = key;
        return;
      }
      case 'portal': {
        const token = bearer(request);
        if (!token) throw new AppError('UNAUTHORIZED', 'Send your portal access token as Authorization: Bearer <token>');
        request.portalAuth = await deps.verifyPortalToken(token);
        return;
      }
      case 'payments': {
        const token = bearer(request);
        if (!token) {
          throw new AppError('UNAUTHORIZED', 'Send the token from POST /api/partners/{accountId}/authenticate as Authorization: Bearer <token>');
        }
        request.paymentsAuth = await deps.verifyPaymentsToken(token);
        return;
      }
      case 'operator': {
        const token = bearer(request);
        if (!deps.operatorToken) {
          throw new AppError('UNAUTHORIZED', 'The operator API is disabled: set ALMONER_OPERATOR_TOKEN to enable it');
        }
        if (!token || !safeEqual(token, deps.operatorToken)) {
          throw new AppError('UNAUTHORIZED', 'Send the operator token as Authorization: Bearer <token>');
        }
        return;
      }
      default:
        return;
    }
  });

  // The signature covers the raw body, so it is checked once the body has been read.
  app.addHook('preValidation', async (request, reply) => {
    const mode = request.routeOptions.config.auth;
    const key = request.resolvedKey;
    if ((mode === 'hmac' || mode === 'hmacSecret' || mode === 'widget') && key) {
      if (mode !== 'widget') {
        verifySignature(request, key, header(request, 'x-timestamp')!);
      }
      request.partnerAuth = {
        partnerId: key.partner.id,
        environment: key.environment,
        keyId: key.keyId,
        keyKind: key.kind,
        partner: key.partner,
      };
      deps.onKeyUsed(key.keyId);
      if (request.legacySigning) reply.header('Deprecation', 'true');
      // Contract A4.3 order: a pk_ on a write route is refused before it can use up the partner's quota.
      if (mode === 'hmacSecret' && key.kind !== 'secret') {
        throw new AppError('SECRET_KEY_REQUIRED', 'This route changes data and needs your secret key (sk_...), not the publishable key');
      }
      await applyRateLimit(deps, reply, key.partner);
    }
    if (request.bodyError) throw request.bodyError;
    // Path and query parameters arrive decoded, so %00 becomes a NUL no text column can store.
    if (request.url.includes('%00')) {
      for (const values of [request.params, request.query] as (Record<string, unknown> | undefined)[]) {
        for (const [name, value] of Object.entries(values ?? {})) {
          if ([value].flat().some((v) => typeof v === 'string' && v.includes('\0'))) throw nulError(`The parameter "${name}"`);
        }
      }
    }
  });
}
