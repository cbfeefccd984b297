import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Plaid-like HTTP server on 127.0.0.1: Link tokens, public-token exchange, Stripe processor
 * tokens and Auth numbers, recording each request's path, JSON body and credential headers. One
 * public token is valid (VALID_PUBLIC_TOKEN); any other is Plaid's INVALID_PUBLIC_TOKEN.
 */
export interface PlaidRequest {
  path: string;
  body: Record<string, unknown>;
  clientId: string | undefined;
  secret: string | undefined;
}

export const VALID_PUBLIC_TOKEN = 'public-sandbox-0f1e2d3c';
export const PLAID_ACCOUNT_ID = 'vzeNDwK7KQIm4yEog683uElbp9GRLEFXGK98D';

export class FakePlaid {
  readonly requests: PlaidRequest[] = [];
  private server!: Server;
  url = '';

  static async start(): Promise<FakePlaid> {
    const fake = new FakePlaid();
    fake.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      const header = (n: string) => (typeof req.headers[n] === 'string' ? (req.headers[n] as string) : undefined);
      fake.requests.push({ path: req.url ?? '/', body, clientId: header('plaid-client-id'), secret: header('plaid-secret') });
      const [status, answer] = fake.answer(req.url ?? '/', body);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...answer, request_id: randomBytes(6).toString('hex') }));
    });
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  last(path: string): PlaidRequest {
    const hit = this.requests.filter((r) => r.path === path).at(-1);
    if (!hit) throw new Error(`no ${path} request reached the fake Plaid`);
    return hit;
  }

  private answer(path: string, body: Record<string, unknown>): [number, Record<string, unknown>] {
    const invalid = (code: string, message: string): [number, Record<string, unknown>] => [
      400,
      { error_type: 'INVALID_INPUT', error_code: code, error_message: message, display_message: null },
    ];
    switch (path) {
      case '/link/token/create':
        return [200, { link_token: `link-sandbox-${randomBytes(8).toString('hex')}`, expiration: new Date(Date.now() + 4 * 3_600_000).toISOString() }];
      case '/item/public_token/exchange':
        if (body.public_token !== VALID_PUBLIC_TOKEN) return invalid('INVALID_PUBLIC_TOKEN', 'provided public token is in an invalid format');
        return [200, { access_token: `access-sandbox-${randomBytes(8).toString('hex')}`, item_id: randomBytes(8).toString('hex') }];
      case '/processor/stripe/bank_account_token/create':
        if (body.account_id !== PLAID_ACCOUNT_ID) return invalid('INVALID_ACCOUNT_ID', 'account_id not found');
        return [200, { stripe_bank_account_token: `btok_plaid_${randomBytes(8).toString('hex')}` }];
      case '/auth/get':
        return [
          200,
          {
            accounts: [{ account_id: PLAID_ACCOUNT_ID, mask: '0000', name: 'Plaid Checking', official_name: 'Plaid Gold Standard 0% Interest Checking', type: 'depository', subtype: 'checking' }],
            numbers: { ach: [{ account_id: PLAID_ACCOUNT_ID, account: '1111222233330000', routing: '011401533', wire_routing: '021000021' }], eft: [], international: [], bacs: [] },
            item: {},
          },
        ];
      default:
        return [404, { error_type: 'INVALID_REQUEST', error_code: 'NOT_FOUND', error_message: `unknown path ${path}` }];
    }
  }
}
