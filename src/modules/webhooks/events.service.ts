import type { Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import { AppError } from '../../platform/errors.js';
import { eventsRepo, type OutboxPosition } from './events.repo.js';
import { LATEST_CURSOR, type EventPageType, type ListEventsQueryType } from './events.schemas.js';
import type { Scope } from './webhooks.repo.js';
import { WEBHOOK_EVENT_TYPES } from './webhooks.validation.js';

const KNOWN_TYPES = new Set<string>(WEBHOOK_EVENT_TYPES);
const MAX_XID8 = 2n ** 64n - 1n;
const MAX_BIGINT = 2n ** 63n - 1n;
const START: OutboxPosition = { xid: '0', seq: '0' };

const invalid = (field: string, message: string) =>
  new AppError('VALIDATION_ERROR', message, { details: [{ path: `querystring.${field}`, message }] });

/**
 * Cursors are opaque to clients (base64url of "xid:seq") so the ordering can change without breaking
 * them in a way they could have depended on.
 */
export function encodeCursor(p: OutboxPosition): string {
  return Buffer.from(`${p.xid}:${p.seq}`, 'utf8').toString('base64url');
}

/** Undefined for anything encodeCursor could not have produced, including non-canonical spellings. */
export function decodeCursor(cursor: string): OutboxPosition | undefined {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) return undefined;
  const m = /^(0|[1-9]\d{0,19}):(0|[1-9]\d{0,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) return undefined;
  const position = { xid: m[1]!, seq: m[2]! };
  if (BigInt(position.xid) > MAX_XID8 || BigInt(position.seq) > MAX_BIGINT) return undefined;
  return encodeCursor(position) === cursor ? position : undefined;
}

function later(a: OutboxPosition, b: OutboxPosition): OutboxPosition {
  const [ax, bx] = [BigInt(a.xid), BigInt(b.xid)];
  if (ax !== bx) return ax > bx ? a : b;
  return BigInt(a.seq) >= BigInt(b.seq) ? a : b;
}

function parseTypes(raw: string | undefined): string[] | null {
  if (raw === undefined) return null;
  const types = [...new Set(raw.split(',').map((t) => t.trim()).filter((t) => t !== ''))];
  if (types.length === 0) throw invalid('types', 'types must name at least one event type, comma-separated');
  const unknown = types.filter((t) => !KNOWN_TYPES.has(t));
  if (unknown.length > 0) {
    throw invalid(
      'types',
      `Unknown event type${unknown.length > 1 ? 's' : ''} ${unknown.map((t) => `"${t}"`).join(', ')}; valid event types are: ${WEBHOOK_EVENT_TYPES.join(', ')}`,
    );
  }
  return types;
}

/**
 * The events feed: the scope's outbox in the order webhook fan-out reads it, so a client polling it
 * sees every event once, late-committing transactions included, exactly as deliveries would.
 */
export class EventsService {
  constructor(private readonly db: Kysely<Database>) {}

  async list(scope: Scope, q: ListEventsQueryType): Promise<EventPageType> {
    const types = parseTypes(q.types);
    if (q.after === LATEST_CURSOR) {
      // Everything readable later has an xid at or above the horizon, and seq starts at 1, so
      // (horizon, 0) sits just before the first event a client starting now has not seen.
      return { data: [], nextCursor: encodeCursor({ xid: await eventsRepo.horizon(this.db), seq: '0' }), hasMore: false };
    }
    let after = START;
    if (q.after !== undefined) {
      const decoded = decodeCursor(q.after);
      if (!decoded) {
        throw invalid('after', `after is not a valid cursor: pass a nextCursor returned by this endpoint, or "${LATEST_CURSOR}"`);
      }
      after = decoded;
    }
    const { rows, horizon } = await eventsRepo.page(this.db, scope, after, q.limit + 1, types);
    const hasMore = rows.length > q.limit;
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    // A full page resumes after its last event. Otherwise every matching event below the horizon has
    // been read, so the cursor may jump to the horizon: the next poll then skips the rows of other
    // partners and other types in between instead of scanning them again.
    const next = hasMore ? last! : later(after, { xid: horizon, seq: '0' });
    return {
      data: page.map((r) => ({ id: r.id, type: r.type, createdAt: r.created_at.toISOString(), data: r.data })),
      nextCursor: encodeCursor({ xid: next.xid, seq: next.seq }),
      hasMore,
    };
  }
}
