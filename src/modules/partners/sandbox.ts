import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { hashPassword } from '../../platform/crypto/passwords.js';
import { objectId } from '../../platform/crypto/ids.js';
import { writePrivateJson } from '../../platform/data-dir.js';
import type { Services } from '../../services.js';
import { partnersRepo } from './partners.repo.js';

export const CREDENTIALS_FILE = 'sandbox-credentials.json';
export const DEMO_PARTNER_NAME = 'Demo Partner';
export const DEMO_PORTAL_EMAIL = 'demo@almoner.local';

export interface SandboxCredentials {
  partnerId: string;
  portalEmail: string;
  portalPassword: string;
  keyId: string;
  publishableKey: string;
  secretKey: string;
  hmacSecret: string;
  [extra: string]: unknown;
}

async function readCredentials(file: string): Promise<SandboxCredentials | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as SandboxCredentials;
  } catch {
    return undefined;
  }
}

/**
 * First start: an ACTIVE demo partner with a portal login and a sandbox key pair, written once to
 * the data dir (0600) because secrets cannot be shown again. Later starts reuse the file as long
 * as the partner and key it names still exist; otherwise a fresh pair is issued and written.
 */
export async function ensureSandboxPartner(
  services: Services,
  dataDir: string,
): Promise<{ file: string; credentials: SandboxCredentials; created: boolean }> {
  const file = path.join(dataDir, CREDENTIALS_FILE);
  const existing = await readCredentials(file);
  if (existing) {
    const key = await partnersRepo.findKey(services.db, existing.partnerId, existing.keyId);
    // An expired key is as unusable as a deactivated one: reusing it would print credentials
    // that every request refuses with KEY_EXPIRED.
    const expired = key?.expires_at != null && key.expires_at.getTime() <= services.clock.now().getTime();
    if (key && key.is_active && !expired) return { file, credentials: existing, created: false };
  }

  let user = await partnersRepo.findPortalUserByEmail(services.db, DEMO_PORTAL_EMAIL);
  const password = `demo-${randomBytes(9).toString('base64url')}`;
  const passwordHash = await hashPassword(password);
  let partnerId: string;
  if (user) {
    partnerId = user.partner_id;
    await partnersRepo.setPortalPassword(services.db, user.id, passwordHash);
  } else {
    const partner = await services.partners.createPartner({
      name: DEMO_PARTNER_NAME,
      status: 'ACTIVE',
      contactEmail: DEMO_PORTAL_EMAIL,
      slug: 'demo-partner',
    });
    partnerId = partner.id;
    user = await partnersRepo.insertPortalUser(services.db, {
      id: objectId(),
      partner_id: partnerId,
      email: DEMO_PORTAL_EMAIL,
      name: 'Demo Admin',
      password_hash: passwordHash,
    });
  }
  const pair = await services.keys.issuePair(partnerId, 'sandbox', 'Sandbox (generated on first start)', null, user.id);
  const credentials: SandboxCredentials = {
    partnerId,
    portalEmail: DEMO_PORTAL_EMAIL,
    portalPassword: password,
    keyId: pair.id,
    publishableKey: pair.publicKey,
    secretKey: pair.secretKey,
    hmacSecret: pair.hmacSecret,
  };
  await writePrivateJson(file, credentials);
  return { file, credentials, created: true };
}
