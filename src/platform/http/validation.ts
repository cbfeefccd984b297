import { Ajv, type Format, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance } from 'fastify';

type AddFormats = (ajv: Ajv) => Ajv;
// ajv-formats ships CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ??
  addFormatsModule) as unknown as AddFormats;

const common: Options = {
  allErrors: false,
  // Unknown properties are an error the caller should hear about, not something to drop silently.
  removeAdditional: false,
  useDefaults: true,
  strict: false,
};

// The span where JavaScript and PostgreSQL read a timestamp the same way: PostgreSQL has no year 0.
const EARLIEST = Date.parse('0001-01-01T00:00:00Z');
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');

/**
 * RFC 3339 admits dates the services cannot use: a leap second (23:59:60) and, in ajv-formats, an
 * offset without minutes ("+05"), both of which Date reads as Invalid Date, and year 0000, which
 * PostgreSQL refuses. Left to the format alone, each reached a query as an unusable value and came
 * back as a 500; checked here, every date-time field and parameter refuses them with a 400.
 */
function readableDateTime(base: Format | undefined): Format {
  // ajv-formats defines date-time as { validate, compare }; without it this check would be all there is.
  const rfc3339 = (base as { validate?: (text: string) => boolean } | undefined)?.validate;
  if (typeof rfc3339 !== 'function') throw new Error('ajv-formats did not define the date-time format');
  return {
    type: 'string',
    validate: (text: string) => {
      if (!rfc3339(text)) return false;
      const ms = Date.parse(text);
      return ms >= EARLIEST && ms <= LATEST;
    },
  };
}

/**
 * Two validators: query strings and path params arrive as text and are coerced to their declared
 * types; JSON bodies are never coerced, so "49.99" is not silently taken for 49.99.
 */
export function installValidators(app: FastifyInstance) {
  const coercing = new Ajv({ ...common, coerceTypes: 'array' });
  const strict = new Ajv({ ...common, coerceTypes: false });
  for (const ajv of [coercing, strict]) {
    addFormats(ajv);
    ajv.addFormat('date-time', readableDateTime(ajv.formats['date-time']));
  }
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? strict.compile(schema) : coercing.compile(schema),
  );
}
