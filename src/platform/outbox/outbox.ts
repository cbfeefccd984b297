import { randomBytes } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, Environment } from '../db/schema.js';

export interface OutboxEvent {
  id: string;
  partnerId: string;
  environment: Environment;
  type: string;
  data: Record<string, unknown>;
  createdAt: Date;
}

export function newEvent(
  partnerId: string,
  environment: Environment,
  type: string,
  data: Record<string, unknown>,
  createdAt: Date,
): OutboxEvent {
  return { id: `evt_${randomBytes(12).toString('hex')}`, partnerId, environment, type, data, createdAt };
}

/**
 * Events are written in the caller's transaction, so an event exists exactly when the change it
 * reports was committed; delivery reads them afterwards.
 */
export async function writeEvents(db: Transaction<Database> | Kysely<Database>, events: OutboxEvent[]) {
  if (events.length === 0) return;
  await sql`
    INSERT INTO outbox_events (id, partner_id, environment, type, data, created_at)
    SELECT * FROM unnest(${events.map((e) => e.id)}::text[], ${events.map((e) => e.partnerId)}::text[],
                         ${events.map((e) => e.environment)}::text[], ${events.map((e) => e.type)}::text[],
                         ${events.map((e) => JSON.stringify(e.data))}::json[], ${events.map((e) => e.createdAt.toISOString())}::timestamptz[])`.execute(
    db,
  );
}
