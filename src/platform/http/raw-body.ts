import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The exact bytes received; request signatures are computed over these, never over re-serialised JSON. */
    rawBody?: Buffer;
    /** A body problem is raised only after authentication, so an unsigned request always gets its 401 first. */
    bodyError?: AppError;
  }
}

export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Fastify's own JSON parser refuses prototype-poisoning keys (onProtoPoisoning and
 * onConstructorPoisoning default to 'error'). Replacing it with plain JSON.parse silently dropped that
 * protection: {"metadata":{"__proto__":{...}}} was accepted and stored, ready to change an object's
 * prototype wherever it is later copied with Object.assign. The same rule is restored here; the
 * reviver (which sees keys after unescaping, so "\u005f_proto__" is caught) only runs when the text
 * could contain such a key.
 */
const POISON_HINT = /proto|constructor|\\u/;
class PrototypeKeyError extends Error {}
/**
 * PostgreSQL's text and jsonb cannot hold U+0000, so a NUL reaching a query failed as a 500. JSON can
 * only carry it escaped ("\u0000"), so the same reviver catches it, in keys and in values.
 */
class NulCharacterError extends Error {
  constructor(readonly key: string) {
    super('NUL');
  }
}
function checkKeys(key: string, value: unknown): unknown {
  if (key === '__proto__' || (key === 'constructor' && typeof value === 'object' && value !== null && Object.hasOwn(value, 'prototype'))) {
    throw new PrototypeKeyError();
  }
  if (key.includes('\0') || (typeof value === 'string' && value.includes('\0'))) throw new NulCharacterError(key);
  return value;
}

/**
 * Deeper than any body of the API needs. jsonb input and the response serializer recurse once per
 * level, and a metadata value a few thousand levels deep failed there as a 500.
 */
export const MAX_JSON_DEPTH = 32;

/** Whether valid JSON text nests objects and arrays deeper than `max`; brackets inside strings do not count. */
function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

export const nulError = (where: string) =>
  new AppError('VALIDATION_ERROR', `${where} contains the NUL character (\\u0000), which no text field can hold; remove it`, {
    details: [{ message: `${where} contains the NUL character` }],
  });

export function installBodyParsers(app: FastifyInstance) {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    /^application\/(.+\+)?json(;.*)?$/i,
    { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES },
    (request, body: Buffer, done) => {
      request.rawBody = body;
      if (body.length === 0) return done(null, undefined);
      const text = body.toString('utf8');
      try {
        const value: unknown = JSON.parse(text, POISON_HINT.test(text) ? checkKeys : undefined);
        if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
          request.bodyError = new AppError('VALIDATION_ERROR', `The body nests objects or arrays more than ${MAX_JSON_DEPTH} levels deep; flatten it`);
          return done(null, undefined);
        }
        done(null, value);
      } catch (err) {
        request.bodyError =
          err instanceof PrototypeKeyError
            ? new AppError('INVALID_JSON', 'The body contains a forbidden key ("__proto__" or "constructor.prototype")')
            : err instanceof NulCharacterError
              ? nulError(err.key === '' ? 'The body' : `The body's "${err.key}"`)
              : new AppError('INVALID_JSON', 'The body is not valid JSON: check quotes, commas and brackets');
        done(null, undefined);
      }
    },
  );
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, (request, body: Buffer, done) => {
    request.rawBody = body;
    if (body.length > 0) {
      request.bodyError = new AppError(
        'UNSUPPORTED_MEDIA_TYPE',
        `Content-Type "${request.headers['content-type'] ?? ''}" is not supported; send application/json`,
      );
    }
    done(null, undefined);
  });
}
