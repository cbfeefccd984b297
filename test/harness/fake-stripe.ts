import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Stripe-like HTTP server on 127.0.0.1 for the official SDK to talk to. It records every request
 * (method, path, form parameters, Idempotency-Key, Stripe-Version, Authorization), answers canned
 * Stripe objects, replays the first answer to a repeated Idempotency-Key as Stripe does, and can be
 * told to answer the next matching request with a Stripe error, a 5xx or a dropped connection.
 */
export interface StripeRequest {
  method: string;
  path: string;
  /** The form body as sent, bracket keys and all: { 'transfer_data[destination]': 'acct_1' }. */
  params: Record<string, string>;
  idempotencyKey: string | undefined;
  stripeVersion: string | undefined;
  authorization: string | undefined;
}

export type StripeAnswer = { status: number; body: unknown } | 'drop';
/** May answer later: a test can make something happen while Stripe is "working". */
type Responder = (req: StripeRequest) => StripeAnswer | Promise<StripeAnswer>;

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
const now = () => Math.floor(Date.now() / 1000);

/** Stripe's error body. */
export const stripeError = (status: number, error: Record<string, unknown>): StripeAnswer => ({ status, body: { error } });

export const cardDeclined = (declineCode: string, message = 'Your card was declined.'): Responder => (req) =>
  stripeError(402, {
    type: 'card_error',
    code: 'card_declined',
    decline_code: declineCode,
    message,
    payment_intent: { id: id('pi'), object: 'payment_intent', status: 'requires_payment_method', amount: Number(req.params.amount) },
  });

/** The `prefix[key]=value` parameters of a form body as an object: metadata[a]=1 -> { a: '1' }. */
export function nested(p: Record<string, string>, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(p)) {
    if (k.startsWith(`${prefix}[`) && k.endsWith(']') && !k.slice(prefix.length + 1, -1).includes('[')) out[k.slice(prefix.length + 1, -1)] = v;
  }
  return out;
}

export class FakeStripe {
  readonly requests: StripeRequest[] = [];
  /** PaymentIntents this server created (a replay under a used Idempotency-Key creates none), by id. */
  readonly paymentIntents = new Map<string, Record<string, unknown>>();
  private readonly overrides: { method: string; path: RegExp; respond: Responder }[] = [];
  private readonly replays = new Map<string, { status: number; body: unknown }>();
  /** Subscriptions this server created (a replay creates none), by id. */
  readonly subscriptions = new Map<string, Record<string, unknown>>();
  /** Objects retrieve calls answer with (GET /v1/payment_intents/:id and the like), by id. */
  readonly objects = new Map<string, Record<string, unknown>>();
  private server!: Server;
  url = '';

  static async start(): Promise<FakeStripe> {
    const fake = new FakeStripe();
    fake.server = createServer((req, res) => void fake.handle(req, res));
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The next request matching method and path gets this answer instead of the canned one. */
  next(method: string, path: RegExp, respond: Responder | StripeAnswer, times = 1): void {
    const r: Responder = typeof respond === 'function' ? respond : () => respond;
    for (let i = 0; i < times; i++) this.overrides.push({ method, path, respond: r });
  }

  find(method: string, path: RegExp): StripeRequest[] {
    return this.requests.filter((r) => r.method === method && path.test(r.path));
  }

  last(method: string, path: RegExp): StripeRequest {
    const all = this.find(method, path);
    if (all.length === 0) throw new Error(`no ${method} ${path} request reached the fake Stripe`);
    return all[all.length - 1]!;
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://x');
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8') || url.search.slice(1));
    const header = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string) : undefined);
    const request: StripeRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      params: Object.fromEntries(form.entries()),
      idempotencyKey: header('idempotency-key'),
      stripeVersion: header('stripe-version'),
      authorization: header('authorization'),
    };
    this.requests.push(request);
    const i = this.overrides.findIndex((o) => o.method === request.method && o.path.test(request.path));
    let answer: StripeAnswer;
    if (i >= 0) {
      const respond = this.overrides.splice(i, 1)[0]!.respond;
      // A failing responder (an assertion in a test) answers at once instead of leaving the SDK waiting.
      answer = await Promise.resolve()
        .then(() => respond(request))
        .catch((err: unknown) => stripeError(500, { type: 'api_error', message: `fake Stripe responder failed: ${String(err)}` }));
    } else {
      const replayKey = request.idempotencyKey ? `${request.authorization} ${request.idempotencyKey}` : undefined;
      const replay = replayKey ? this.replays.get(replayKey) : undefined;
      answer = replay ?? this.canned(request);
      if (replayKey && !replay && answer !== 'drop') this.replays.set(replayKey, answer);
    }
    if (answer === 'drop') {
      req.socket.destroy();
      return;
    }
    res.writeHead(answer.status, { 'content-type': 'application/json', 'request-id': id('req') });
    res.end(JSON.stringify(answer.body));
  }

  /** Stripe's answer to a well-formed request. */
  private canned(r: StripeRequest): StripeAnswer {
    const p = r.params;
    const ok = (body: Record<string, unknown>) => ({ status: 200, body });
    const path = r.path;
    let m: RegExpExecArray | null;
    if (r.method === 'POST' && path === '/v1/customers') return ok({ id: id('cus'), object: 'customer', email: p.email ?? null, name: p.name ?? null });
    if (r.method === 'POST' && (m = /^\/v1\/customers\/([^/]+)$/.exec(path))) return ok({ id: m[1], object: 'customer', email: p.email ?? null });
    if (r.method === 'POST' && path === '/v1/payment_intents') {
      const pid = id('pi');
      const confirmed = p.confirm === 'true';
      const pi = {
        id: pid,
        object: 'payment_intent',
        amount: Number(p.amount),
        currency: p.currency,
        status: confirmed ? 'succeeded' : 'requires_payment_method',
        client_secret: `${pid}_secret_${randomBytes(8).toString('hex')}`,
        last_payment_error: null,
        metadata: nested(p, 'metadata'),
        livemode: false,
      };
      this.paymentIntents.set(pid, pi);
      return ok(pi);
    }
    if (r.method === 'GET' && path === '/v1/payment_intents/search') {
      // Only the query this server's users send: metadata['key']:'value'.
      const q = /^metadata\['([^']+)'\]:'([^']*)'$/.exec(p.query ?? '');
      const data = q ? [...this.paymentIntents.values()].filter((pi) => (pi.metadata as Record<string, string>)[q[1]!] === q[2]) : [];
      return ok({ object: 'search_result', data, has_more: false, next_page: null, url: '/v1/payment_intents/search' });
    }
    if (r.method === 'POST' && path === '/v1/setup_intents') {
      const sid = id('seti');
      return ok({ id: sid, object: 'setup_intent', client_secret: `${sid}_secret_${randomBytes(8).toString('hex')}`, status: 'requires_payment_method', usage: p.usage });
    }
    if (r.method === 'POST' && (m = /^\/v1\/customers\/([^/]+)\/sources$/.exec(path))) {
      return ok({
        id: id('ba'),
        object: 'bank_account',
        customer: m[1],
        bank_name: 'STRIPE TEST BANK',
        last4: '6789',
        routing_number: '110000000',
        account_holder_name: 'Jenny Rosen',
        // Plaid's processor tokens give verified accounts; Stripe.js tokens need micro-deposits.
        status: p.source?.startsWith('btok_plaid') ? 'verified' : 'new',
      });
    }
    if (r.method === 'POST' && (m = /^\/v1\/customers\/([^/]+)\/sources\/([^/]+)\/verify$/.exec(path))) {
      if (p['amounts[0]'] === '32' && p['amounts[1]'] === '45') return ok({ id: m[2], object: 'bank_account', status: 'verified', customer: m[1] });
      return stripeError(400, { type: 'invalid_request_error', code: 'bank_account_verification_failed', message: 'The amounts provided do not match the amounts that were sent to the bank account.' });
    }
    if (r.method === 'DELETE' && (m = /^\/v1\/customers\/([^/]+)\/sources\/([^/]+)$/.exec(path))) return ok({ id: m[2], object: 'bank_account', deleted: true });
    if (r.method === 'POST' && (m = /^\/v1\/payment_methods\/([^/]+)\/detach$/.exec(path))) return ok({ id: m[1], object: 'payment_method', customer: null });
    if (r.method === 'POST' && path === '/v1/checkout/sessions') {
      const cid = `cs_test_${randomBytes(16).toString('hex')}`;
      return ok({ id: cid, object: 'checkout.session', mode: p.mode, status: 'open', url: `https://checkout.stripe.com/c/pay/${cid}`, expires_at: now() + 86_400 });
    }
    if (r.method === 'POST' && path === '/v1/products') return ok({ id: id('prod'), object: 'product', name: p.name });
    if (r.method === 'POST' && path === '/v1/prices') {
      return ok({
        id: id('price'),
        object: 'price',
        product: p.product ?? id('prod'),
        currency: p.currency,
        unit_amount: Number(p.unit_amount),
        type: p['recurring[interval]'] ? 'recurring' : 'one_time',
        recurring: p['recurring[interval]'] ? { interval: p['recurring[interval]'] } : null,
      });
    }
    if (r.method === 'POST' && path === '/v1/subscriptions') return ok(this.subscription(id('sub'), p));
    if (r.method === 'POST' && (m = /^\/v1\/subscriptions\/([^/]+)$/.exec(path))) return ok(this.subscription(m[1]!, p));
    if (r.method === 'DELETE' && (m = /^\/v1\/subscriptions\/([^/]+)$/.exec(path))) {
      const canceled = { ...this.subscription(m[1]!, {}), status: 'canceled', ended_at: now() };
      this.subscriptions.set(m[1]!, canceled);
      return ok(canceled);
    }
    if (r.method === 'GET' && path === '/v1/subscriptions/search') {
      const q = /^metadata\['([^']+)'\]:'([^']*)'$/.exec(p.query ?? '');
      const data = q ? [...this.subscriptions.values()].filter((sub) => (sub.metadata as Record<string, string>)[q[1]!] === q[2]) : [];
      return ok({ object: 'search_result', data, has_more: false, next_page: null, url: '/v1/subscriptions/search' });
    }
    if (r.method === 'GET' && (m = /^\/v1\/payment_methods\/([^/]+)$/.exec(path))) {
      return ok(this.objects.get(m[1]!) ?? { id: m[1], object: 'payment_method', type: 'card', card: { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2034 }, billing_details: { name: 'Jenny Rosen', email: null } });
    }
    if (r.method === 'GET' && (m = /^\/v1\/(payment_intents|subscriptions)\/([^/]+)$/.exec(path))) {
      const known = this.objects.get(m[2]!) ?? this.paymentIntents.get(m[2]!) ?? this.subscriptions.get(m[2]!);
      return known ? ok(known) : stripeError(404, { type: 'invalid_request_error', code: 'resource_missing', message: `No such object: '${m[2]}'` });
    }
    if (r.method === 'POST' && path === '/v1/refunds') return ok({ id: id('re'), object: 'refund', amount: Number(p.amount), payment_intent: p.payment_intent, status: 'succeeded' });
    return stripeError(404, { type: 'invalid_request_error', message: `Unrecognized request URL (${r.method}: ${path}).` });
  }

  /**
   * A subscription carrying the settings the requests so far gave it: items by price or inline
   * price_data (with their metadata), deletions by item id, pause, cancellation, default method.
   */
  private subscription(subId: string, p: Record<string, string>): Record<string, unknown> {
    const start = now();
    const prev = this.subscriptions.get(subId) ?? {
      pause_collection: null,
      cancel_at: null,
      cancel_at_period_end: false,
      items: { object: 'list', data: [] },
      metadata: {},
      customer: p.customer ?? null,
      default_payment_method: null,
      start_date: start,
    };
    let items = (prev.items as { data: Record<string, unknown>[] }).data;
    const indices = [...new Set(Object.keys(p).map((k) => /^items\[(\d+)\]/.exec(k)?.[1]).filter((n): n is string => n !== undefined))];
    for (const n of indices) {
      const at = (k: string) => p[`items[${n}]${k}`];
      if (at('[id]') && at('[deleted]') === 'true') {
        items = items.filter((i) => i.id !== at('[id]'));
        continue;
      }
      const inline = at('[price_data][unit_amount]') !== undefined;
      const price = inline
        ? { id: id('price'), object: 'price', product: at('[price_data][product]'), unit_amount: Number(at('[price_data][unit_amount]')), currency: at('[price_data][currency]'), recurring: { interval: at('[price_data][recurring][interval]') } }
        : { id: at('[price]'), object: 'price', product: id('prod'), unit_amount: null };
      items = [
        ...items,
        { id: id('si'), object: 'subscription_item', price, quantity: Number(at('[quantity]') ?? 1), metadata: nested(p, `items[${n}][metadata]`), current_period_start: start, current_period_end: start + 30 * 86_400 },
      ];
    }
    const sub: Record<string, unknown> = {
      ...prev,
      id: subId,
      object: 'subscription',
      status: 'active',
      ended_at: null,
      items: { object: 'list', data: items },
      metadata: { ...(prev.metadata as Record<string, string>), ...nested(p, 'metadata') },
      default_payment_method: p.default_payment_method ?? prev.default_payment_method,
    };
    if (p.cancel_at_period_end !== undefined) sub.cancel_at_period_end = p.cancel_at_period_end === 'true';
    if (p.cancel_at !== undefined) sub.cancel_at = p.cancel_at === '' ? null : Number(p.cancel_at);
    if (p.pause_collection === '') sub.pause_collection = null;
    else if (p['pause_collection[behavior]']) {
      sub.pause_collection = { behavior: p['pause_collection[behavior]'], resumes_at: p['pause_collection[resumes_at]'] ? Number(p['pause_collection[resumes_at]']) : null };
    }
    this.subscriptions.set(subId, sub);
    return sub;
  }
}
