import { randomUUID } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import type { Clock } from '../../platform/clock.js';
import { AppError } from '../../platform/errors.js';

/** Contract B3.2: tokens live 7800 s. */
export const PAYMENTS_TOKEN_TTL_SECONDS = 7800;

export interface PaymentsClaims {
  partnerId: number;
  accountId: string;
  roleId: number;
  name: string;
  idempotencyKey: string;
}

const unauthorized = (message: string) => new AppError('UNAUTHORIZED', message);

/**
 * HS256 tokens with exactly the claims of contract B3.2. `exp` is fractional like the seed's
 * sample (now in ms / 1000 + 7800) and `iat` whole seconds; both forms are accepted on the way in.
 * The key is derived for this purpose only, so a portal token never verifies here.
 */
export class PaymentsTokens {
  constructor(
    private readonly key: Uint8Array,
    private readonly clock: Clock,
  ) {}

  async issue(claims: Omit<PaymentsClaims, 'idempotencyKey' | 'roleId'>): Promise<{ token: string; exp: number }> {
    const nowMs = this.clock.now().getTime();
    const exp = nowMs / 1000 + PAYMENTS_TOKEN_TTL_SECONDS;
    const token = await new SignJWT({ ...claims, roleId: 1, idempotencyKey: randomUUID(), iat: Math.floor(nowMs / 1000), exp })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(this.key);
    return { token, exp };
  }

  async verify(token: string): Promise<PaymentsClaims> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'], currentDate: this.clock.now() });
      if (typeof payload.accountId !== 'string' || typeof payload.partnerId !== 'number' || typeof payload.exp !== 'number') {
        throw unauthorized('The token is not a Payments API token; get one from POST /api/partners/{accountId}/authenticate');
      }
      return {
        partnerId: payload.partnerId,
        accountId: payload.accountId,
        roleId: Number(payload.roleId),
        name: String(payload.name),
        idempotencyKey: String(payload.idempotencyKey),
      };
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (err instanceof errors.JWTExpired) {
        throw new AppError('TOKEN_EXPIRED', 'The token expired (they last 7800 s); authenticate again with POST /api/partners/{accountId}/authenticate');
      }
      throw unauthorized('The bearer token is not valid; authenticate again with POST /api/partners/{accountId}/authenticate');
    }
  }
}
