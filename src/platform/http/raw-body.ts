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
function rejectPrototypeKeys(key: string, value: unknown): unknown {
  if (key === '__proto__' || (key === 'constructor' && typeof value === 'object' && value !== null && Object.hasOwn(value, 'prototype'))) {
    throw new PrototypeKeyError();
  }
  return value;
}

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
        done(null, JSON.parse(text, POISON_HINT.test(text) ? rejectPrototypeKeys : undefined));
      } catch (err) {
        request.bodyError =
          err instanceof PrototypeKeyError
            ? new AppError('INVALID_JSON', 'The body contains a forbidden key ("__proto__" or "constructor.prototype")')
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
