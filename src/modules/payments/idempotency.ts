import { createHash } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import { AppError } from '../../platform/errors.js';

export interface Outcome<T> {
  status: number;
  body: T;
}

/** Keys are opaque to us; Stripe allows up to 255 characters. */
const KEY_SHAPE = /^[\x21-\x7e]{1,255}$/;

export function assertKeyShape(key: string | undefined): void {
  if (key !== undefined && !KEY_SHAPE.test(key)) {
    throw new AppError('VALIDATION_ERROR', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
  }
}

export function requestHash(route: string, body: unknown): string {
  return createHash('sha256').update(route).update('\n').update(JSON.stringify(body ?? null)).digest('hex');
}

/**
 * Runs `effect` at most once per (account, Idempotency-Key). The key row is claimed first, inside the
 * effect's own transaction: a concurrent request with the same key waits on it, then finds it and
 * replays the stored answer, so the effect happens exactly once however many copies arrive. The
 * answer (a decline included) is stored before commit. Without a key the effect just runs.
 */
export async function idempotent<T>(
  db: Kysely<Database>,
  accountId: string,
  key: string | undefined,
  hash: string,
  now: Date,
  effect: (trx: Transaction<Database>) => Promise<Outcome<T>>,
): Promise<Outcome<T> & { replayed: boolean }> {
  assertKeyShape(key);
  const result = await db.transaction().execute(async (trx) => {
    if (key !== undefined) {
      const claimed = await sql<{ key: string }>`
        INSERT INTO payments_idempotency (account_id, key, request_hash, status_code, response, created_at)
        VALUES (${accountId}, ${key}, ${hash}, 0, 'null', ${now})
        ON CONFLICT (account_id, key) DO NOTHING RETURNING key`.execute(trx);
      if (claimed.rows.length === 0) return undefined;
    }
    const outcome = await effect(trx);
    if (key !== undefined) {
      await trx
        .updateTable('payments_idempotency')
        .set({ status_code: outcome.status, response: JSON.stringify(outcome.body) })
        .where('account_id', '=', accountId)
        .where('key', '=', key)
        .execute();
    }
    return outcome;
  });
  if (result) return { ...result, replayed: false };
  const stored = await db
    .selectFrom('payments_idempotency')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('key', '=', key!)
    .executeTakeFirstOrThrow();
  if (stored.request_hash !== hash) {
    throw new AppError('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key "${key}" was used with a different request; use a new key for a new request`);
  }
  return { status: stored.status_code, body: stored.response as T, replayed: true };
}

/**
 * The same keys for an effect that happens outside the database transaction (a Stripe charge): the
 * key is claimed and committed with status 0 and a note of the work under way, then finished with
 * the answer once the outcome is recorded. A repeat finds the note and resumes that work.
 */
export const idempotencyKeys = {
  /** Claims the key, or returns what it holds: an answer (status > 0) or work under way (status 0). */
  async claim(trx: Transaction<Database>, accountId: string, key: string, hash: string, now: Date, pending: unknown) {
    const claimed = await sql<{ key: string }>`
      INSERT INTO payments_idempotency (account_id, key, request_hash, status_code, response, created_at)
      VALUES (${accountId}, ${key}, ${hash}, 0, ${JSON.stringify(pending)}, ${now})
      ON CONFLICT (account_id, key) DO NOTHING RETURNING key`.execute(trx);
    if (claimed.rows.length === 1) return null;
    const stored = await trx.selectFrom('payments_idempotency').selectAll().where('account_id', '=', accountId).where('key', '=', key).executeTakeFirstOrThrow();
    if (stored.request_hash !== hash) {
      throw new AppError('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key "${key}" was used with a different request; use a new key for a new request`);
    }
    return { status: stored.status_code, body: stored.response };
  },

  async finish(trx: Transaction<Database>, accountId: string, key: string, outcome: Outcome<unknown>) {
    await trx
      .updateTable('payments_idempotency')
      .set({ status_code: outcome.status, response: JSON.stringify(outcome.body) })
      .where('account_id', '=', accountId)
      .where('key', '=', key)
      .execute();
  },

  /** Forgets a claim whose work certainly did nothing, so the key can be used again. */
  async release(trx: Transaction<Database>, accountId: string, key: string) {
    await trx.deleteFrom('payments_idempotency').where('account_id', '=', accountId).where('key', '=', key).where('status_code', '=', 0).execute();
  },
};
