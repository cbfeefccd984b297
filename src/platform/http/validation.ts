import { Ajv, type Options } from 'ajv';
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

/**
 * Two validators: query strings and path params arrive as text and are coerced to their declared
 * types; JSON bodies are never coerced, so "49.99" is not silently taken for 49.99.
 */
export function installValidators(app: FastifyInstance) {
  const coercing = new Ajv({ ...common, coerceTypes: 'array' });
  const strict = new Ajv({ ...common, coerceTypes: false });
  for (const ajv of [coercing, strict]) {
    addFormats(ajv);
  }
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? strict.compile(schema) : coercing.compile(schema),
  );
}
