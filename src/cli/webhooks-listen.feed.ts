import type { EventPageType } from '../modules/webhooks/events.schemas.js';
import { signPartnerRequest } from '../platform/crypto/signing.js';
import type { ListenOptions } from './webhooks-listen.options.js';

/** A refusal from the API that retrying cannot fix (bad key, bad signature, bad argument). */
export class ApiRefusal extends Error {}

/** The API is unreachable or busy; worth asking again after `retryAfterMs` (when it said). */
export class ApiUnavailable extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }
}

/** Why a request never got an answer, without a stack: "connect ECONNREFUSED 127.0.0.1:3000". */
export function networkReason(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return 'timed out';
  const cause = (err as { cause?: { message?: string; code?: string } }).cause;
  return cause?.message ?? cause?.code ?? (err instanceof Error ? err.message : String(err));
}

/** Signed reads of the events feed (contract A4.2). */
export class FeedClient {
  constructor(
    private readonly options: ListenOptions,
    private readonly signal: AbortSignal,
  ) {}

  async page(after: string, limit: number): Promise<EventPageType> {
    const types = this.options.types.length ? `&types=${this.options.types.map(encodeURIComponent).join(',')}` : '';
    const pathWithQuery = `/v1/partner/events?after=${encodeURIComponent(after)}&limit=${limit}${types}`;
    const timestamp = String(Math.floor(Date.now() / 1000));
    let res: Response;
    try {
      res = await fetch(`${this.options.apiUrl}${pathWithQuery}`, {
        headers: {
          'x-partner-key': this.options.key,
          'x-timestamp': timestamp,
          'x-signature': signPartnerRequest({ secret: this.options.hmacSecret, timestamp, method: 'GET', pathWithQuery }),
        },
        signal: AbortSignal.any([this.signal, AbortSignal.timeout(this.options.timeoutMs)]),
      });
    } catch (err) {
      throw new ApiUnavailable(`cannot reach ${this.options.apiUrl}: ${networkReason(err)}`);
    }
    const body = (await res.json().catch(() => null)) as ({ code?: string; message?: string } & Partial<EventPageType>) | null;
    if (res.ok && body && Array.isArray(body.data) && typeof body.nextCursor === 'string') return body as EventPageType;
    const what = `${res.status}${body?.code ? ` ${body.code}` : ''}${body?.message ? `: ${body.message}` : ''}`;
    if (res.status === 429 || res.status >= 500 || res.ok) {
      const retryAfter = Number(res.headers.get('retry-after'));
      throw new ApiUnavailable(`${this.options.apiUrl} answered ${what}`, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : null);
    }
    throw new ApiRefusal(`${this.options.apiUrl} refused the events feed: ${what}`);
  }
}
