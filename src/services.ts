import type { Kysely } from 'kysely';
import type { Clock } from './platform/clock.js';
import { deriveKey, SecretBox } from './platform/crypto/secret-box.js';
import type { Database } from './platform/db/schema.js';
import { KeysService } from './modules/partners/keys.service.js';
import { PartnersService } from './modules/partners/partners.service.js';
import { PortalTokens } from './modules/partners/portal-tokens.js';
import { UsersService } from './modules/users/users.service.js';
import { UsageService } from './modules/dashboard/usage.service.js';

/** Wires the domain services once, for the HTTP app and the CLI alike. */
export function createServices(db: Kysely<Database>, masterKey: Buffer, clock: Clock) {
  const box = new SecretBox(masterKey);
  const keys = new KeysService(db, box, clock);
  const tokens = new PortalTokens(deriveKey(masterKey, 'almoner/portal-jwt/v1'), clock);
  const partners = new PartnersService(db, keys, tokens, clock);
  const users = new UsersService(db, clock);
  const usage = new UsageService(db);
  return { db, clock, box, keys, tokens, partners, users, usage };
}

export type Services = ReturnType<typeof createServices>;
