/**
 * Domain errors carry a stable machine code and a message that tells the caller what to fix.
 * They know nothing about HTTP: platform/http/error-map.ts turns codes into statuses.
 */
export class AppError extends Error {
  readonly code: string;
  readonly details: unknown[] | undefined;
  /** Extra top-level fields for the response body (e.g. the original result on IDEMPOTENT). */
  readonly extra: Record<string, unknown> | undefined;
  /** Response headers that belong to this error (e.g. Retry-After). */
  readonly headers: Record<string, string> | undefined;

  constructor(
    code: string,
    message: string,
    options: { details?: unknown[]; extra?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = options.details;
    this.extra = options.extra;
    this.headers = options.headers;
  }
}

export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} was not found`);
