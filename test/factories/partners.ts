import { randomBytes } from 'node:crypto';
import type { Environment } from '../../src/platform/db/schema.js';
import type { Services } from '../../src/services.js';

export interface PartnerFixture {
  partnerId: string;
  email: string;
  password: string;
  accessToken: string;
  sandbox: { keyId: string; publishableKey: string; secretKey: string; hmacSecret: string };
  production?: { keyId: string; publishableKey: string; secretKey: string; hmacSecret: string };
  /** Signing credentials for the sandbox secret key. */
  sk: { key: string; hmacSecret: string };
  /** Signing credentials for the sandbox publishable key. */
  pk: { key: string; hmacSecret: string };
}

/** A partner registered through the service with a portal login and a sandbox key pair (and a production one when ACTIVE). */
export async function createPartner(
  services: Services,
  options: { status?: 'PENDING_APPROVAL' | 'ACTIVE' | 'SUSPENDED'; name?: string; withProduction?: boolean } = {},
): Promise<PartnerFixture> {
  const email = `p-${randomBytes(5).toString('hex')}@example.com`;
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const session = await services.partners.register({ email, password, partnerName: options.name ?? 'Test Partner' });
  const partnerId = session.partner.id;
  const status = options.status ?? 'ACTIVE';
  if (status !== 'PENDING_APPROVAL') await services.partners.setStatus(partnerId, 'ACTIVE');
  const issue = async (environment: Environment) => {
    const k = await services.keys.issuePair(partnerId, environment, `${environment} key`, null, session.user.id);
    return { keyId: k.id, publishableKey: k.publicKey, secretKey: k.secretKey, hmacSecret: k.hmacSecret };
  };
  const sandbox = await issue('sandbox');
  const production = options.withProduction && status === 'ACTIVE' ? await issue('production') : undefined;
  if (status === 'SUSPENDED') await services.partners.setStatus(partnerId, 'SUSPENDED');
  return {
    partnerId,
    email,
    password,
    accessToken: session.accessToken,
    sandbox,
    ...(production ? { production } : {}),
    sk: { key: sandbox.secretKey, hmacSecret: sandbox.hmacSecret },
    pk: { key: sandbox.publishableKey, hmacSecret: sandbox.hmacSecret },
  };
}

/** Signing credentials of a fixture's production secret key. */
export const prodKey = (p: PartnerFixture) => ({ key: p.production!.secretKey, hmacSecret: p.production!.hmacSecret });
