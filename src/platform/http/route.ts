import type { TSchema } from '@sinclair/typebox';
import type { AuthMode } from './auth.js';
import { errorResponses } from './common.schemas.js';

const HMAC_SECURITY = [{ PartnerKey: [], Timestamp: [], Signature: [] }];

const SECURITY: Record<AuthMode, Record<string, string[]>[]> = {
  hmac: HMAC_SECURITY,
  hmacSecret: HMAC_SECURITY,
  widget: [{ PartnerKey: [] }],
  portal: [{ PortalToken: [] }],
  operator: [{ OperatorToken: [] }],
  none: [],
};

const AUTH_ERRORS: Record<AuthMode, number[]> = {
  hmac: [401, 403, 429],
  hmacSecret: [401, 403, 429],
  widget: [401, 403, 429],
  portal: [401],
  operator: [401],
  none: [],
};

const AUTH_NOTE: Record<AuthMode, string> = {
  hmac: 'Auth: HMAC (pk_ or sk_ key, signed).',
  hmacSecret: 'Auth: HMAC with the secret key (sk_ only; pk_ gets 403).',
  widget: 'Auth: Widget (X-Partner-Key only, callable from browsers).',
  portal: 'Auth: portal access token (Authorization: Bearer).',
  operator: 'Auth: operator token (Authorization: Bearer).',
  none: 'Auth: none.',
};

interface RouteSchema {
  body?: TSchema;
  querystring?: TSchema;
  params?: TSchema;
  headers?: TSchema;
  response: Record<number, TSchema>;
  summary?: string;
  description?: string;
  tags?: string[];
  hide?: boolean;
}

/**
 * Route options for one auth mode: the config the auth hook reads, the OpenAPI security entry,
 * and every error status the route can produce, so the documents never miss one.
 */
export function authed<S extends RouteSchema>(auth: AuthMode, schema: S) {
  // 400 is always possible: a malformed body is refused even on routes that take none.
  const statuses = new Set<number>([...AUTH_ERRORS[auth], 400, 500]);
  if (schema.body) {
    statuses.add(413);
    statuses.add(415);
  }
  return {
    config: { auth },
    schema: {
      ...schema,
      description: [schema.description, AUTH_NOTE[auth]].filter(Boolean).join('\n\n'),
      security: SECURITY[auth],
      response: { ...errorResponses(...statuses), ...schema.response } as S['response'],
    },
  };
}
