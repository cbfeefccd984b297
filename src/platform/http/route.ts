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
  payments: [{ PaymentsToken: [] }],
  none: [],
};

const AUTH_ERRORS: Record<AuthMode, number[]> = {
  hmac: [401, 403, 429],
  hmacSecret: [401, 403, 429],
  widget: [401, 403, 429],
  portal: [401],
  operator: [401],
  payments: [401, 403],
  none: [],
};

const AUTH_NOTE: Record<AuthMode, string> = {
  hmac: 'Auth: HMAC (pk_ or sk_ key, signed).',
  hmacSecret: 'Auth: HMAC with the secret key (sk_ only; pk_ gets 403).',
  widget: 'Auth: Widget (X-Partner-Key only, callable from browsers).',
  portal: 'Auth: portal access token (Authorization: Bearer).',
  operator: 'Auth: operator token (Authorization: Bearer).',
  payments: 'Auth: Payments API token (Authorization: Bearer <token from authenticate>).',
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
  // 400, 413 and 415 are always possible: the body parsers refuse a malformed, oversized or non-JSON
  // body on every route that reads one, whether or not it declares a body (a POST .../approve sent
  // text/plain answered an undeclared 415). authed() cannot see the method, so GET routes, which
  // never read a body, list them too.
  const statuses = new Set<number>([...AUTH_ERRORS[auth], 400, 413, 415, 500]);
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
