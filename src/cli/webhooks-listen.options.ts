import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { CREDENTIALS_FILE } from '../modules/partners/sandbox.js';

export interface ListenOptions {
  apiUrl: string;
  key: string;
  hmacSecret: string;
  /** Where the credentials came from, to say so without showing them. */
  source: string;
  forwardTo: string;
  secret: string;
  types: string[];
  intervalMs: number;
  timeoutMs: number;
  /** Waits before each retry of a forward that could not connect; its length is the number of retries. */
  retryDelaysMs: number[];
}

export class ListenUsageError extends Error {}

const SECRET_PATTERN = /^whsec_[0-9a-f]{64}$/;

function httpUrl(value: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ListenUsageError(`${what} must be an http:// or https:// URL, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ListenUsageError(`${what} must be an http:// or https:// URL, got "${value}"`);
  return value;
}

/**
 * Flags first, then the environment, then the sandbox credentials file that `almoner serve` writes on
 * first start. The key and its HMAC secret always come from the same place: a key from the command
 * line paired with a secret from a file would only ever produce INVALID_SIGNATURE.
 */
export async function resolveListenOptions(args: string[], env: Record<string, string | undefined>): Promise<ListenOptions> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        'forward-to': { type: 'string' },
        types: { type: 'string' },
        secret: { type: 'string' },
        api: { type: 'string' },
        key: { type: 'string' },
        'hmac-secret': { type: 'string' },
        interval: { type: 'string' },
      },
    }));
  } catch (err) {
    throw new ListenUsageError((err as Error).message);
  }
  const forwardTo = values['forward-to'];
  if (!forwardTo) throw new ListenUsageError('--forward-to URL is required, e.g. --forward-to http://localhost:3000/hooks');
  httpUrl(forwardTo, '--forward-to');

  const secret = values.secret ?? `whsec_${randomBytes(32).toString('hex')}`;
  if (!SECRET_PATTERN.test(secret)) throw new ListenUsageError('--secret must be whsec_ followed by 64 lowercase hex characters, like an endpoint secret');

  const types = [...new Set((values.types ?? '').split(',').map((t) => t.trim()).filter(Boolean))];
  const intervalMs = values.interval === undefined ? 1000 : Number(values.interval);
  if (!Number.isInteger(intervalMs) || intervalMs < 50 || intervalMs > 60_000) throw new ListenUsageError('--interval must be milliseconds from 50 to 60000');

  const key = values.key ?? env.ALMONER_SECRET_KEY;
  const hmacSecret = values['hmac-secret'] ?? env.ALMONER_HMAC_SECRET;
  let apiUrl = values.api ?? env.ALMONER_API_URL;
  let credentials: { key: string; hmacSecret: string; source: string };
  if (key || hmacSecret) {
    if (!key || !hmacSecret) throw new ListenUsageError('give the key and its HMAC secret together (--key and --hmac-secret, or ALMONER_SECRET_KEY and ALMONER_HMAC_SECRET)');
    credentials = { key, hmacSecret, source: values.key ? 'command line' : 'environment' };
  } else {
    const file = path.join(loadConfig(env).dataDir, CREDENTIALS_FILE);
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      throw new ListenUsageError(
        `${missing ? 'no credentials' : `cannot read ${file}`}: pass --key and --hmac-secret (or set ALMONER_SECRET_KEY and ALMONER_HMAC_SECRET), ` +
          `or start \`almoner serve\` once so it writes ${file}`,
      );
    }
    if (typeof parsed.secretKey !== 'string' || typeof parsed.hmacSecret !== 'string') throw new ListenUsageError(`${file} has no secretKey and hmacSecret`);
    credentials = { key: parsed.secretKey, hmacSecret: parsed.hmacSecret, source: file };
    if (!apiUrl && typeof parsed.apiUrl === 'string') apiUrl = parsed.apiUrl;
  }
  // The server's own setting is the right default: the file and the server that wrote it share one configuration.
  apiUrl = httpUrl(apiUrl ?? loadConfig(env).publicUrl, 'the API URL').replace(/\/+$/, '');

  return {
    apiUrl,
    key: credentials.key,
    hmacSecret: credentials.hmacSecret,
    source: credentials.source,
    forwardTo,
    secret,
    types,
    intervalMs,
    timeoutMs: 10_000,
    retryDelaysMs: [500, 1000, 2000],
  };
}
