import { BlockList, isIP } from 'node:net';
import { AppError } from '../../platform/errors.js';
import type { Environment } from '../../platform/db/schema.js';

/** Contract A9.3: the event types an endpoint may subscribe to. */
export const WEBHOOK_EVENT_TYPES = [
  'action.completed',
  'action.failed',
  'action.reversed',
  'transaction.completed',
  'token_pool.low_balance',
  'token_pool.depleted',
  'campaign.status_changed',
  'donation.completed',
  'donation.failed',
  'webhook.test',
  'webhook.disabled',
  'match_request.created',
  'match_request.approved',
  'match_request.declined',
  'match_request.paid',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

const KNOWN_EVENT_TYPES = new Set<string>(WEBHOOK_EVENT_TYPES);

export const MAX_URL_LENGTH = 2048;
export const MAX_CUSTOM_HEADERS = 20;

/** Headers the delivery itself sets or that control the connection: a partner may not override them. */
export const RESERVED_HEADERS = [
  'host',
  'content-length',
  'content-type',
  'user-agent',
  'x-sir-signature',
  'x-sir-timestamp',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'connection',
  'transfer-encoding',
] as const;
const RESERVED = new Set<string>(RESERVED_HEADERS);

/** RFC 9110 `token`: the characters a header field name may use. */
const HTTP_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const invalid = (path: string, message: string) => new AppError('VALIDATION_ERROR', message, { details: [{ path, message }] });

export function assertEventTypes(eventTypes: readonly string[]): void {
  const unknown = [...new Set(eventTypes.filter((t) => !KNOWN_EVENT_TYPES.has(t)))];
  if (unknown.length > 0) {
    throw invalid(
      '/eventTypes',
      `Unknown event type${unknown.length > 1 ? 's' : ''} ${unknown.map((t) => `"${t}"`).join(', ')}; valid event types are: ${WEBHOOK_EVENT_TYPES.join(', ')}`,
    );
  }
}

/** eventTypes is required (non-empty) unless the endpoint receives every event. */
export function assertSubscription(eventTypes: readonly string[], receiveAllEvents: boolean): void {
  if (!receiveAllEvents && eventTypes.length === 0) {
    throw invalid('/eventTypes', 'eventTypes must list at least one event type unless receiveAllEvents is true');
  }
}

export function assertCustomHeaders(headers: Record<string, string>): void {
  const names = Object.keys(headers);
  if (names.length > MAX_CUSTOM_HEADERS) {
    throw invalid('/headers', `At most ${MAX_CUSTOM_HEADERS} custom headers are allowed; got ${names.length}`);
  }
  const seen = new Set<string>();
  for (const name of names) {
    if (!HTTP_TOKEN.test(name)) {
      throw invalid(`/headers/${name}`, `Custom header name "${name}" is not a valid HTTP header name (letters, digits and !#$%&'*+.^_\`|~- only)`);
    }
    const lower = name.toLowerCase();
    if (RESERVED.has(lower)) {
      throw invalid(`/headers/${name}`, `Custom header "${name}" is reserved: deliveries set it themselves (reserved: ${RESERVED_HEADERS.join(', ')})`);
    }
    if (seen.has(lower)) throw invalid(`/headers/${name}`, `Custom header "${name}" is given twice (header names are case-insensitive)`);
    seen.add(lower);
    if (/[\r\n\0]/.test(headers[name]!)) {
      throw invalid(`/headers/${name}`, `The value of custom header "${name}" must not contain CR, LF or NUL characters`);
    }
  }
}

// Addresses a production webhook may never target. IPv4-mapped IPv6 (::ffff:0:0/96) is refused
// outright below, whatever IPv4 address it embeds.
const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this" network
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, including the 169.254.169.254 metadata service
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['::', 96], // IPv4-compatible (deprecated)
  ['64:ff9b::', 96], // NAT64
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4 embeds an IPv4 address
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}
const MAPPED = new BlockList();
MAPPED.addSubnet('::ffff:0:0', 96, 'ipv6');

/** Why a literal host is not a public address, or null when it is (or is a name). */
export function privateHostReason(hostname: string): string | null {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (host === 'localhost' || host.endsWith('.localhost') || host === 'ip6-localhost' || host === 'ip6-loopback') {
    return `"${hostname}" is a loopback host name`;
  }
  if (host.endsWith('.local') || host.endsWith('.internal') || host.endsWith('.home.arpa') || (!host.includes('.') && isIP(bare) === 0)) {
    return `"${hostname}" is not a public host name`;
  }
  const family = isIP(bare);
  if (family === 4 && blocked.check(bare, 'ipv4')) return `${bare} is a private, loopback, link-local or reserved address`;
  if (family === 6) {
    if (MAPPED.check(bare, 'ipv6')) return `${bare} is an IPv4-mapped IPv6 address`;
    if (blocked.check(bare, 'ipv6')) return `${bare} is a private, loopback, link-local or reserved IPv6 address`;
  }
  return null;
}

export interface UrlPolicy {
  environment: Environment;
  /** Sandbox endpoints may use http:// and private or loopback hosts (the embedded demo's default). */
  allowInsecureSandbox: boolean;
}

/**
 * Checks an endpoint URL when it is registered or changed. This is a literal check only: the WHATWG
 * parser already turns decimal, octal and hex IPv4 forms (http://2130706433/, http://0x7f.1/) into
 * dotted quads, which are then checked. A public name that resolves to a private address (or is
 * rebound later) can only be caught when connecting: that check comes with delivery.
 */
export function assertWebhookUrl(raw: string, policy: UrlPolicy): string {
  if (raw.length > MAX_URL_LENGTH) throw invalid('/url', `url must be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid('/url', 'url is not a valid absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid('/url', 'url must use http:// or https://');
  if (url.username || url.password) throw invalid('/url', 'url must not contain credentials (user:password@)');
  const relaxed = policy.environment === 'sandbox' && policy.allowInsecureSandbox;
  if (relaxed) return raw;
  if (url.protocol !== 'https:') throw invalid('/url', `url must use https:// for ${policy.environment} endpoints`);
  const reason = privateHostReason(url.hostname);
  if (reason) throw invalid('/url', `url must point to a public host: ${reason}`);
  return raw;
}
