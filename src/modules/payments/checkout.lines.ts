import type { Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import type { CheckoutLineItem } from '../../platform/db/schema.payments.js';
import { AppError, notFound } from '../../platform/errors.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import { catalogRepo } from './catalog.repo.js';
import { currencyOrThrow, type CatalogService } from './catalog.service.js';
import type { CheckoutBodyType } from './checkout.schemas.js';

const invalid = (path: string, message: string) => new AppError('VALIDATION_ERROR', message, { details: [{ path, message }] });

export function assertRedirectUrl(value: string, field: 'successURL' | 'cancelURL'): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`/${field}`, `${field} must be an absolute URL such as https://example.org/thanks; got "${value}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid(`/${field}`, `${field} must be an http or https URL; got ${url.protocol}`);
}

/** The lines sold: one from amount + productName + quantity, or one per item (contract B9 #13). */
export async function checkoutLines(db: Kysely<Database>, catalog: CatalogService, auth: PaymentsAuth, body: CheckoutBodyType, currency: string): Promise<CheckoutLineItem[]> {
  const single = body.amount !== undefined || body.productName !== undefined || body.quantity !== undefined;
  if (body.items && single) {
    const field = body.amount !== undefined ? 'amount' : body.productName !== undefined ? 'productName' : 'quantity';
    throw invalid(`/${field}`, `Send either items or amount + productName + quantity, not both (${field} was given with items)`);
  }
  if (!body.items) {
    if (body.amount === undefined) throw invalid('/amount', 'Send items, or amount with productName and quantity');
    if (body.productName === undefined) throw invalid('/productName', 'productName is required with amount');
    if (body.quantity === undefined) throw invalid('/quantity', 'quantity is required with amount');
    return [{ name: body.productName, priceId: null, unitAmount: body.amount, quantity: body.quantity, interval: null }];
  }
  const out: CheckoutLineItem[] = [];
  for (const [i, item] of body.items.entries()) {
    const at = `/items/${i}`;
    const quantity = item.quantity ?? 1;
    if (item.priceId !== undefined) {
      const custom = (['unitAmount', 'currency', 'interval', 'productId', 'productName'] as const).find((k) => item[k] !== undefined);
      if (custom) throw invalid(`${at}/${custom}`, `${custom} belongs to a custom price; an item with priceId takes only quantity`);
      const price = await catalog.price(auth, item.priceId);
      if (price.currency !== currency) throw invalid(`${at}/priceId`, `Price ${item.priceId} is in ${price.currency}, this checkout in ${currency}`);
      const product = await catalogRepo.findProduct(db, auth.accountId, price.product_id);
      out.push({ name: product?.name ?? price.product_id, priceId: price.id, unitAmount: Number(price.unit_amount), quantity, interval: price.recurring_interval });
      continue;
    }
    if (item.unitAmount === undefined) throw invalid(`${at}/priceId`, 'Each item needs a priceId, or a custom unitAmount (with currency)');
    if (item.currency !== undefined && currencyOrThrow(item.currency, `${at}/currency`) !== currency) {
      throw invalid(`${at}/currency`, `Item currency ${item.currency.toUpperCase()} differs from the checkout's ${currency}`);
    }
    const product = item.productId !== undefined ? await catalogRepo.findProduct(db, auth.accountId, item.productId) : undefined;
    if (item.productId !== undefined && !product) throw notFound(`Product "${item.productId}" (${at}/productId)`);
    out.push({ name: item.productName ?? product?.name ?? 'Donation', priceId: null, unitAmount: item.unitAmount, quantity, interval: item.interval ?? null });
  }
  return out;
}

/**
 * Payment mode sells one-time lines only, subscription mode recurring lines only, all on one
 * interval (contract B6.4; Stripe refuses the mix the same way), and a recurring tip follows the
 * items' interval.
 */
export function assertModeAndInterval(mode: 'payment' | 'subscription', lines: CheckoutLineItem[], body: CheckoutBodyType): void {
  const where = (i: number) => (body.items ? (body.items[i]!.priceId !== undefined ? `/items/${i}/priceId` : `/items/${i}/interval`) : '/mode');
  if (mode === 'payment') {
    const i = lines.findIndex((l) => l.interval !== null);
    if (i >= 0) throw invalid(where(i), `Item ${i} is recurring (${lines[i]!.interval}); use mode "subscription" for recurring items`);
    if (body.tipInterval !== undefined) throw invalid('/tipInterval', 'tipInterval is for mode "subscription"; a payment-mode tip is charged once');
    return;
  }
  const i = lines.findIndex((l) => l.interval === null);
  if (i >= 0) throw invalid(where(i), body.items ? `Item ${i} is one-time; subscription mode needs recurring items` : 'Subscription mode needs items with recurring prices');
  const interval = lines[0]!.interval!;
  const j = lines.findIndex((l) => l.interval !== interval);
  if (j >= 0) throw invalid(where(j), `All recurring items must share one interval: item 0 is every ${interval}, item ${j} every ${lines[j]!.interval}`);
  if (body.tipInterval !== undefined && body.tipInterval !== interval) {
    throw invalid('/tipInterval', `tipInterval must be the items' interval (${interval}); got ${body.tipInterval}`);
  }
}

/** The successURL the donor lands on: Stripe's {CHECKOUT_SESSION_ID} template, or ?session_id= added. */
export function successRedirect(successUrl: string, sessionId: string): string {
  if (successUrl.includes('{CHECKOUT_SESSION_ID}')) return successUrl.replaceAll('{CHECKOUT_SESSION_ID}', sessionId);
  const url = new URL(successUrl);
  url.searchParams.set('session_id', sessionId);
  return url.toString();
}
