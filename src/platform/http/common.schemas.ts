import { Type, type Static, type TSchema } from '@sinclair/typebox';

export const ErrorBody = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String(),
    code: Type.String({ description: 'Stable machine-readable error code' }),
    message: Type.String({ description: 'What went wrong and how to fix it' }),
    details: Type.Optional(
      Type.Array(
        Type.Object(
          { path: Type.Optional(Type.String()), message: Type.String() },
          { additionalProperties: true },
        ),
      ),
    ),
    requestId: Type.String(),
  },
  { $id: 'Error', title: 'Error' },
);
export type ErrorBodyType = Static<typeof ErrorBody>;

export const ErrorRef = Type.Ref('Error');

/**
 * The error body plus the original result's fields: 409 IDEMPOTENT replays and 402 failed actions
 * carry the action's id and outcome beside the error, so a client can read either.
 */
export const ErrorWithResult = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String(),
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Array(Type.Object({ path: Type.Optional(Type.String()), message: Type.String() }, { additionalProperties: true }))),
    requestId: Type.String(),
  },
  { $id: 'ErrorWithResult', title: 'ErrorWithResult', additionalProperties: true },
);
export const ErrorWithResultRef = Type.Ref('ErrorWithResult');

/** Declares the error statuses a route can return, all with the one error body. */
export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const s of statuses) out[s] = ErrorRef;
  return out;
}

export const PageQuery = Type.Object(
  {
    page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  },
  { additionalProperties: false },
);
export type PageQueryType = Static<typeof PageQuery>;

export function Paginated<T extends TSchema>(item: T) {
  return Type.Object({
    data: Type.Array(item),
    page: Type.Integer(),
    limit: Type.Integer(),
    total: Type.Integer(),
  });
}

export const EnvironmentSchema = Type.Union([Type.Literal('sandbox'), Type.Literal('production')]);

export const IsoDate = Type.String({ format: 'date-time' });
export const NullableIsoDate = Type.Union([IsoDate, Type.Null()]);

export const Metadata = Type.Record(Type.String({ maxLength: 40 }), Type.Unknown(), {
  description: 'Free-form key/value data, at most 50 keys',
  maxProperties: 50,
});
