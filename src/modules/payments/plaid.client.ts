import type { PlaidApi } from 'plaid';
import type { PlaidConfig } from '../../config.js';
import { AppError } from '../../platform/errors.js';

/**
 * Plaid through its official SDK, in our terms: a Link token for a customer, and a public token
 * exchanged for either a Stripe bank-account token (Stripe accounts) or the account's numbers
 * (sandbox accounts, which move no real money). The client id and secret travel only in Plaid's
 * headers and are never logged or returned.
 */
export interface PlaidLinked {
  /** The Item's access token: used within one exchange, never stored. */
  accessToken: string;
  accountId: string;
}

export class PlaidClient {
  private loaded: Promise<{ api: PlaidApi; sdk: typeof import('plaid') }> | undefined;

  constructor(readonly config: PlaidConfig) {}

  /**
   * The SDK is loaded on first use: it costs every process about a quarter of a second and 35 MB of
   * heap at start, and most processes (workers, servers whose partners never link a bank) never call it.
   */
  private load() {
    this.loaded ??= import('plaid').then((sdk) => ({
      sdk,
      api: new sdk.PlaidApi(
        new sdk.Configuration({
          basePath: this.config.basePath,
          baseOptions: {
            headers: { 'PLAID-CLIENT-ID': this.config.clientId, 'PLAID-SECRET': this.config.secret, 'Plaid-Version': '2020-09-14' },
            timeout: 30_000,
          },
        }),
      ),
    }));
    return this.loaded;
  }

  get environment(): string {
    return this.config.environment;
  }

  /** Plaid Link for one customer: Auth (account and routing numbers), US banks, in English. */
  async linkToken(input: { customerId: string; clientName: string }): Promise<string> {
    const { api, sdk } = await this.load();
    const { Products, CountryCode } = sdk;
    const res = await plaidCall(() =>
      api.linkTokenCreate({
        user: { client_user_id: input.customerId },
        // Plaid shows the name in Link and allows 30 characters.
        client_name: input.clientName.slice(0, 30),
        products: [Products.Auth],
        country_codes: [CountryCode.Us],
        language: 'en',
      }),
    );
    return res.data.link_token;
  }

  async exchange(publicToken: string, accountId: string): Promise<PlaidLinked> {
    const { api } = await this.load();
    const res = await plaidCall(() => api.itemPublicTokenExchange({ public_token: publicToken }));
    return { accessToken: res.data.access_token, accountId };
  }

  /** A Stripe bank-account token (btok_...) for the linked account; Stripe takes it as verified. */
  async stripeBankToken(linked: PlaidLinked): Promise<string> {
    const { api } = await this.load();
    const res = await plaidCall(() => api.processorStripeBankAccountTokenCreate({ access_token: linked.accessToken, account_id: linked.accountId }));
    return res.data.stripe_bank_account_token;
  }

  /** The linked account's routing number, last four digits and name. */
  async accountNumbers(linked: PlaidLinked): Promise<{ routing: string; last4: string; name: string }> {
    const { api } = await this.load();
    const res = await plaidCall(() => api.authGet({ access_token: linked.accessToken, options: { account_ids: [linked.accountId] } }));
    const ach = res.data.numbers.ach.find((n) => n.account_id === linked.accountId);
    const account = res.data.accounts.find((a) => a.account_id === linked.accountId);
    if (!ach || !account) {
      throw new AppError('VALIDATION_ERROR', `Plaid has no account "${linked.accountId}" with ACH numbers in this Item`, {
        details: [{ path: '/accountId', message: 'not an account of the linked Item' }],
      });
    }
    return { routing: ach.routing, last4: account.mask ?? ach.account.slice(-4), name: account.official_name ?? account.name };
  }
}

interface PlaidErrorBody {
  error_type?: string;
  error_code?: string;
  error_message?: string;
  display_message?: string | null;
}

/** Plaid's refusals of what the caller sent are 400s with Plaid's message; the rest is ours or retryable. */
async function plaidCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const response = (err as { response?: { status?: number; data?: PlaidErrorBody } }).response;
    const status = response?.status;
    const body = response?.data ?? {};
    if (status === undefined || status === 429 || status >= 500) {
      throw new AppError('PROCESSOR_UNAVAILABLE', 'Plaid could not be reached or is rate limiting; try again shortly', { headers: { 'Retry-After': '2' } });
    }
    if (body.error_code === 'INVALID_API_KEYS' || status === 401 || status === 403) {
      throw new AppError('PROCESSOR_ERROR', "Plaid refused this server's Plaid credentials; the operator must check ALMONER_PLAID_CLIENT_ID and ALMONER_PLAID_SECRET");
    }
    const code = body.error_code ?? 'INVALID_REQUEST';
    throw new AppError('PROCESSOR_REJECTED', `Plaid refused the request (${code}): ${body.display_message ?? body.error_message ?? 'invalid request'}`, {
      details: [{ path: code === 'INVALID_PUBLIC_TOKEN' ? '/values' : '/', message: code }],
    });
  }
}
