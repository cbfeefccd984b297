import path from 'node:path';
import { writePrivateJson } from '../../platform/data-dir.js';
import type { Services } from '../../services.js';
import { CREDENTIALS_FILE, type SandboxCredentials } from '../partners/sandbox.js';
import { organizationsRepo } from '../organizations/index.js';
import { accountsRepo } from './accounts.repo.js';
import { catalogRepo } from './catalog.repo.js';
import { chargesRepo } from './charges.repo.js';
import { customersRepo } from './customers.repo.js';

/**
 * The identifiers the Givinga document's request samples use, so a partner can paste a sample into
 * the sandbox and get a success: charity 123456, donor account 11420157, employee subaccount 123456
 * under master account "myusername", and a connected account taking a 20 % cut.
 */
export async function seedSampleDestinations(services: Services, accountId: string): Promise<void> {
  await organizationsRepo.ensure(services.db, {
    id: 123456,
    slug: 'sample-charity-123456',
    name: 'Sample Charity (sandbox)',
    status: 'active',
    deductibility: 'PC',
  });
  await services.destinations.addGivingAccount(accountId, { kind: 'giving_account', ref: '11420157', name: 'Sample donor account' });
  await services.destinations.addGivingAccount(accountId, { kind: 'master_account', ref: 'myusername', name: 'Sample corporate account' });
  await services.destinations.addGivingAccount(accountId, { kind: 'subaccount', ref: '123456', name: 'Sample employee', masterRef: 'myusername' });
  if ((await catalogRepo.listConnected(services.db, accountId)).length === 0) {
    await services.catalog.createConnected(accountId, { percentageCut: 20, description: 'My test account' });
  }
  // The samples' customer and bank account ids. Ids are global, so only the first sandbox account
  // of a database (the demo partner's) can have them.
  if (!(await customersRepo.findAny(services.db, SAMPLE_CUSTOMER_ID))) {
    const now = services.clock.now();
    await customersRepo.insert(services.db, {
      id: SAMPLE_CUSTOMER_ID,
      account_id: accountId,
      first_name: 'John',
      last_name: 'Doe',
      email: 'john@example.com',
      external_id: '2jk4h2n3un4',
      created_at: now,
      updated_at: now,
    });
    await chargesRepo.insertMethod(services.db, {
      id: SAMPLE_BANK_ACCOUNT_ID,
      account_id: accountId,
      customer_id: SAMPLE_CUSTOMER_ID,
      type: 'us_bank_account',
      bank_name: 'STRIPE TEST BANK',
      bank_last4: '6789',
      bank_routing: '110000000',
      status: 'verified',
      sandbox_outcome: 'succeeds',
      created_at: now,
    });
  }
}

export const SAMPLE_CUSTOMER_ID = 'cus_12345';
export const SAMPLE_BANK_ACCOUNT_ID = 'ba_xx123xx';

/**
 * The demo partner also gets a sandbox Payments API account, added to the credentials file
 * (`accountId`, `paymentsSecretKey`) so the Payments API works from the first start. A file from
 * before payments existed, or one naming a deleted account, gets a fresh account.
 */
export async function ensureSandboxPayments(services: Services, dataDir: string, credentials: SandboxCredentials): Promise<SandboxCredentials> {
  const accountId = typeof credentials.accountId === 'string' ? credentials.accountId : undefined;
  if (accountId && typeof credentials.paymentsSecretKey === 'string') {
    const existing = await accountsRepo.find(services.db, accountId);
    if (existing?.is_active && existing.partner_id === credentials.partnerId) {
      await seedSampleDestinations(services, accountId);
      return credentials;
    }
  }
  const account = await services.paymentsAccounts.create(credentials.partnerId, { environment: 'sandbox', description: 'Sandbox (generated on first start)' });
  await seedSampleDestinations(services, account.accountId);
  const updated: SandboxCredentials = { ...credentials, accountId: account.accountId, paymentsSecretKey: account.secretKey };
  await writePrivateJson(path.join(dataDir, CREDENTIALS_FILE), updated);
  return updated;
}
