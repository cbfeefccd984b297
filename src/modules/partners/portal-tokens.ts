import { SignJWT, jwtVerify, errors } from 'jose';
import { AppError } from '../../platform/errors.js';
import type { Clock } from '../../platform/clock.js';
import type { PortalAuth } from '../../platform/http/auth.js';

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
export const REFRESH_TOKEN_TTL_SECONDS = 30 * 24 * 3600;
const ISSUER = 'almoner';
const AUDIENCE = 'almoner-portal';

type TokenUse = 'access' | 'refresh';

/** HS256 portal tokens; access and refresh tokens differ by `use`, so one cannot stand in for the other. */
export class PortalTokens {
  constructor(
    private readonly key: Uint8Array,
    private readonly clock: Clock,
  ) {}

  private sign(auth: PortalAuth, use: TokenUse, ttl: number) {
    const now = Math.floor(this.clock.now().getTime() / 1000);
    return new SignJWT({ pid: auth.partnerId, use })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(auth.userId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + ttl)
      .sign(this.key);
  }

  async issue(auth: PortalAuth) {
    return {
      accessToken: await this.sign(auth, 'access', ACCESS_TOKEN_TTL_SECONDS),
      refreshToken: await this.sign(auth, 'refresh', REFRESH_TOKEN_TTL_SECONDS),
      expiresIn: ACCESS_TOKEN_TTL_SECONDS,
    };
  }

  async verify(token: string, use: TokenUse): Promise<PortalAuth> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['HS256'],
        currentDate: this.clock.now(),
      });
      if (payload.use !== use || typeof payload.sub !== 'string' || typeof payload.pid !== 'string') {
        throw new AppError('INVALID_TOKEN', `This is not a portal ${use} token`);
      }
      return { userId: payload.sub, partnerId: payload.pid };
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (err instanceof errors.JWTExpired) {
        throw new AppError('TOKEN_EXPIRED', use === 'access' ? 'The access token expired; refresh it with POST /v1/partner/auth/refresh' : 'The refresh token expired; log in again');
      }
      throw new AppError('INVALID_TOKEN', 'The token is not valid; log in again');
    }
  }
}
