/** Post-processing of the one generated OpenAPI document into the two published ones. */

interface Doc {
  info?: Record<string, unknown>;
  paths?: Record<string, unknown>;
  tags?: { name: string }[];
  [k: string]: unknown;
}

export const PARTNER_API_LINK = {
  description:
    'Reward users with tokens, accept donations and receive signed webhooks. Signed routes need ' +
    'X-Partner-Key, X-Timestamp (Unix seconds) and X-Signature = hex(HMAC-SHA256(hmacSecret, ' +
    'timestamp + METHOD + path?query + hex(SHA-256(body)))).\n\n' +
    'The donation processing API (Givinga-compatible, under /api) is documented separately: [Payments API](/payments-api).',
};

export const PAYMENTS_API_INFO = {
  title: 'almoner Payments API',
  description:
    'Donation processing, compatible with the Givinga Payments API. Authenticate with ' +
    'POST /api/partners/{accountId}/authenticate (hmac = hex(HMAC-SHA256(secret key, String(hashEpoch)))) and send the ' +
    'returned token as Authorization: Bearer on every other route. Amounts are integers in the currency\'s smallest unit.\n\n' +
    'Rewards, webhooks and the widget: [Partner API](/partner-api).',
};

/** A copy of `doc` with only the paths `keep` accepts, and `info` fields replaced by `info`. */
export function onlyPaths(doc: unknown, keep: (path: string) => boolean, info: Record<string, unknown>): Doc {
  const source = doc as Doc;
  const paths = Object.fromEntries(Object.entries(source.paths ?? {}).filter(([p]) => keep(p)));
  return { ...source, info: { ...source.info, ...info }, paths };
}
