import path from 'node:path';
import { writePrivateJson } from '../../platform/data-dir.js';
import type { Services } from '../../services.js';
import { CREDENTIALS_FILE, type SandboxCredentials } from '../partners/sandbox.js';
import { accountsRepo } from './accounts.repo.js';

/**
 * The demo partner also gets a sandbox Payments API account, added to the credentials file
 * (`accountId`, `paymentsSecretKey`) so the Payments API works from the first start. A file from
 * before payments existed, or one naming a deleted account, gets a fresh account.
 */
export async function ensureSandboxPayments(services: Services, dataDir: string, credentials: SandboxCredentials): Promise<SandboxCredentials> {
  const accountId = typeof credentials.accountId === 'string' ? credentials.accountId : undefined;
  if (accountId && typeof credentials.paymentsSecretKey === 'string') {
    const existing = await accountsRepo.find(services.db, accountId);
    if (existing?.is_active && existing.partner_id === credentials.partnerId) return credentials;
  }
  const account = await services.paymentsAccounts.create(credentials.partnerId, { environment: 'sandbox', description: 'Sandbox (generated on first start)' });
  const updated: SandboxCredentials = { ...credentials, accountId: account.accountId, paymentsSecretKey: account.secretKey };
  await writePrivateJson(path.join(dataDir, CREDENTIALS_FILE), updated);
  return updated;
}
