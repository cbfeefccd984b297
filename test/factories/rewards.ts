import type { LightMyRequestResponse } from 'fastify';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/platform/db/schema.js';
import type { Services } from '../../src/services.js';
import { OPERATOR_TOKEN, signed, type SigningKey, type TestContext } from '../harness/context.js';

/** A funded sandbox pool for a partner, created the way an operator would. */
export async function createPool(
  services: Services,
  partnerId: string,
  options: {
    tokens?: bigint;
    environment?: 'sandbox' | 'production';
    vestingDays?: number;
    grantExpiryDays?: number;
    lowBalanceThresholdUnits?: bigint;
    autoRefill?: { thresholdUnits: bigint; amountUnits: bigint };
    /** Production pools are approved unless this is false. */
    approve?: boolean;
  } = {},
) {
  const pool = await services.pools.create(
    { partnerId, environment: options.environment ?? 'sandbox' },
    {
      name: 'Test pool',
      initialUnits: (options.tokens ?? 1_000_000n) * 100n,
      vestingDays: options.vestingDays ?? null,
      grantExpiryDays: options.grantExpiryDays ?? null,
      ...(options.lowBalanceThresholdUnits !== undefined ? { lowBalanceThresholdUnits: options.lowBalanceThresholdUnits } : {}),
      ...(options.autoRefill ? { autoRefill: { enabled: true, ...options.autoRefill } } : {}),
    },
  );
  if (options.environment === 'production' && options.approve !== false) return services.pools.approve(pool.id);
  return pool;
}

export const purchase = (key: string, amount: string, users: string[] = ['user_42'], extra: Record<string, unknown> = {}) =>
  `{"idempotencyKey":${JSON.stringify(key)},"actionType":"PURCHASE","amount":${amount},"currency":"USD","stakeholders":[${users
    .map((u) => `{"stakeholderTypeCode":"CUSTOMER","partnerUserId":${JSON.stringify(u)}}`)
    .join(',')}],"autoCreateUsers":true${Object.entries(extra)
    .map(([k, v]) => `,${JSON.stringify(k)}:${JSON.stringify(v)}`)
    .join('')}}`;

/**
 * A submit body as raw JSON text. `amount` is pasted in as written ("49.99", "4.999e1", "\"NaN\""), so the
 * exact literal reaches the server; everything else is JSON.stringify'd.
 */
export function actionBody(options: {
  key: string;
  amount: string;
  currency?: string;
  actionType?: string;
  stakeholders?: { stakeholderTypeCode: string; partnerUserId: string }[];
  autoCreateUsers?: boolean;
  extra?: Record<string, unknown>;
}): string {
  const fields: string[] = [
    `"idempotencyKey":${JSON.stringify(options.key)}`,
    `"actionType":${JSON.stringify(options.actionType ?? 'PURCHASE')}`,
    `"amount":${options.amount}`,
    `"currency":${JSON.stringify(options.currency ?? 'USD')}`,
    `"stakeholders":${JSON.stringify(options.stakeholders ?? [{ stakeholderTypeCode: 'CUSTOMER', partnerUserId: 'user_42' }])}`,
  ];
  if (options.autoCreateUsers !== false) fields.push('"autoCreateUsers":true');
  for (const [k, v] of Object.entries(options.extra ?? {})) fields.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
  return `{${fields.join(',')}}`;
}

/** A signed partner call; a string body is sent byte for byte, anything else through JSON.stringify. */
export function partnerCall(ctx: TestContext, creds: SigningKey, method: string, url: string, body?: unknown): Promise<LightMyRequestResponse> {
  return ctx.app.inject(
    typeof body === 'string' ? signed(ctx.clock, creds, method, url, undefined, { rawBody: body }) : signed(ctx.clock, creds, method, url, body),
  );
}

/** An operator call (Authorization: Bearer <operator token>); a string body is sent as written. */
export function operatorCall(ctx: TestContext, method: string, url: string, body?: unknown): Promise<LightMyRequestResponse> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return ctx.app.inject({
    method: method as 'GET' | 'POST',
    url,
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(payload !== undefined ? { payload } : {}),
  });
}

/** Moves a partner's sandbox clock forward through the operator route (which also runs the expiry sweep). */
export async function advanceSandbox(ctx: TestContext, partnerId: string, seconds: number): Promise<string> {
  const res = await operatorCall(ctx, 'POST', `/v1/admin/partners/${partnerId}/sandbox-clock/advance`, { seconds });
  if (res.statusCode !== 200) throw new Error(`advancing the sandbox clock failed: ${res.statusCode} ${res.body}`);
  return (res.json() as { sandboxNow: string }).sandboxNow;
}

export const DAY_SECONDS = 86_400;

export interface RowCounts {
  actions: number;
  users: number;
  tokenTransactions: number;
  ledgerTransactions: number;
  ledgerPostings: number;
  outboxEvents: number;
  reversals: number;
}

/** Everything a partner has written in the rewards tables, counted: "nothing was written" is a zero diff. */
export async function rowCounts(db: Kysely<Database>, partnerId: string): Promise<RowCounts> {
  const r = await sql<Record<keyof RowCounts, string>>`
    SELECT
      (SELECT count(*) FROM actions WHERE partner_id = ${partnerId}) AS "actions",
      (SELECT count(*) FROM partner_users WHERE partner_id = ${partnerId}) AS "users",
      (SELECT count(*) FROM token_transactions WHERE partner_id = ${partnerId}) AS "tokenTransactions",
      (SELECT count(*) FROM ledger_transactions WHERE partner_id = ${partnerId}) AS "ledgerTransactions",
      (SELECT count(*) FROM ledger_postings p JOIN ledger_transactions t ON t.id = p.transaction_id WHERE t.partner_id = ${partnerId}) AS "ledgerPostings",
      (SELECT count(*) FROM outbox_events WHERE partner_id = ${partnerId}) AS "outboxEvents",
      (SELECT count(*) FROM action_reversals WHERE partner_id = ${partnerId}) AS "reversals"`.execute(db);
  const row = r.rows[0]!;
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)])) as unknown as RowCounts;
}

/** Outbox events of a partner, oldest first, optionally of one type. */
export async function outboxEvents(db: Kysely<Database>, partnerId: string, type?: string) {
  let q = db.selectFrom('outbox_events').selectAll().where('partner_id', '=', partnerId);
  if (type) q = q.where('type', '=', type);
  const rows = await q.orderBy('seq').execute();
  return rows.map((r) => ({ ...r, data: r.data as Record<string, unknown> }));
}

/** A ledger account's stored balance in units, or undefined when the account does not exist. */
export async function ledgerBalance(db: Kysely<Database>, accountId: string): Promise<bigint | undefined> {
  const row = await db.selectFrom('ledger_accounts').select('balance').where('id', '=', accountId).executeTakeFirst();
  return row === undefined ? undefined : BigInt(row.balance);
}
