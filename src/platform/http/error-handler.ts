import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { STATUS_BY_CODE, reasonPhrase } from './error-map.js';

interface ValidationIssue {
  path: string;
  message: string;
}

/** Turns ajv's errors into messages that name the field and say what it must be. */
function validationDetails(error: FastifyError): ValidationIssue[] {
  const context = error.validationContext ?? 'body';
  return (error.validation ?? []).map((v) => {
    const base = `${context}${(v.instancePath || '').replace(/\//g, '.')}`;
    const params = v.params as Record<string, unknown>;
    if (v.keyword === 'additionalProperties') {
      const prop = String(params.additionalProperty);
      return { path: `${base}.${prop}`, message: `unknown property "${prop}" is not allowed` };
    }
    if (v.keyword === 'required') {
      const prop = String(params.missingProperty);
      return { path: `${base}.${prop}`, message: `"${prop}" is required` };
    }
    return { path: base, message: `${base} ${v.message ?? 'is invalid'}` };
  });
}

export function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
  details?: unknown[],
  extra?: Record<string, unknown>,
) {
  const body: Record<string, unknown> = {
    ...extra,
    statusCode: status,
    error: reasonPhrase(status),
    code,
    message,
    requestId: request.id,
  };
  if (details && details.length > 0) body.details = details;
  // Set here too: some errors are answered before the hook that adds it has run.
  reply.header('X-Request-Id', request.id);
  return reply.status(status).send(body);
}

export function installErrorHandler(app: FastifyInstance) {
  app.setErrorHandler((err: FastifyError | AppError | Error, request, reply) => {
    if (err instanceof AppError) {
      const status = STATUS_BY_CODE[err.code];
      if (status !== undefined) {
        if (err.headers) reply.headers(err.headers);
        return sendError(request, reply, status, err.code, err.message, err.details, err.extra);
      }
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      const details = validationDetails(fe);
      const message =
        details.length > 0 ? details.map((d) => d.message).join('; ') : 'The request is invalid';
      return sendError(request, reply, 400, 'VALIDATION_ERROR', message, details);
    }
    switch (fe.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendError(request, reply, 413, 'PAYLOAD_TOO_LARGE', 'The request body is larger than 1 MiB');
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return sendError(request, reply, 415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the body as Content-Type: application/json');
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return sendError(request, reply, 400, 'INVALID_JSON', 'The body is not valid JSON');
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return sendError(request, reply, 400, 'INVALID_REQUEST', 'Content-Length does not match the body');
    }
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      // Errors raised by Fastify itself or a plugin for a client mistake; the message is safe to show.
      return sendError(request, reply, fe.statusCode, 'INVALID_REQUEST', fe.message);
    }
    request.log.error({ err }, 'unhandled error');
    return sendError(request, reply, 500, 'INTERNAL_ERROR', 'Something went wrong on our side; the request id helps us find it');
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(request, reply, 404, 'ROUTE_NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`),
  );
}
