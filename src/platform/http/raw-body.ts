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

export function installBodyParsers(app: FastifyInstance) {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    /^application\/(.+\+)?json(;.*)?$/i,
    { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES },
    (request, body: Buffer, done) => {
      request.rawBody = body;
      if (body.length === 0) return done(null, undefined);
      try {
        done(null, JSON.parse(body.toString('utf8')));
      } catch {
        request.bodyError = new AppError('INVALID_JSON', 'The body is not valid JSON: check quotes, commas and brackets');
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
