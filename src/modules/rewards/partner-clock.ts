import type { Kysely, Transaction } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import type { Database, Environment } from '../../platform/db/schema.js';
import { notFound } from '../../platform/errors.js';

const TTL_MS = 2000;

/**
 * The time rewards rules see. Production always runs on real time; a partner's sandbox may run ahead
 * (operator route) so vesting, expiry, schedules and budgets can be tried out without waiting.
 * Request signatures keep using real time: they are checked by the platform clock, not this one.
 */
export class PartnerClock {
  private readonly offsets = new Map<string, { offsetMs: number; fetched: number }>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly base: Clock,
  ) {}

  /** Inside a transaction pass it as `db`, so the lookup never waits for a second pool connection. */
  async now(partnerId: string, environment: Environment, db: Kysely<Database> | Transaction<Database> = this.db): Promise<Date> {
    const base = this.base.now();
    if (environment !== 'sandbox') return base;
    return new Date(base.getTime() + (await this.offset(partnerId, db)));
  }

  private async offset(partnerId: string, db: Kysely<Database> | Transaction<Database>): Promise<number> {
    const hit = this.offsets.get(partnerId);
    if (hit && Date.now() - hit.fetched < TTL_MS) return hit.offsetMs;
    const row = await db
      .selectFrom('partners')
      .select('sandbox_clock_offset_ms')
      .where('id', '=', partnerId)
      .executeTakeFirst();
    const offsetMs = Number(row?.sandbox_clock_offset_ms ?? 0);
    this.offsets.set(partnerId, { offsetMs, fetched: Date.now() });
    return offsetMs;
  }

  async advance(partnerId: string, ms: number): Promise<Date> {
    const row = await this.db
      .updateTable('partners')
      .set((eb) => ({ sandbox_clock_offset_ms: eb('sandbox_clock_offset_ms', '+', BigInt(ms)) }))
      .where('id', '=', partnerId)
      .returning('sandbox_clock_offset_ms')
      .executeTakeFirst();
    if (!row) throw notFound('Partner');
    this.offsets.delete(partnerId);
    return new Date(this.base.now().getTime() + Number(row.sandbox_clock_offset_ms));
  }
}
