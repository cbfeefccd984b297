import { randomBytes } from 'node:crypto';

let counter = randomBytes(3).readUIntBE(0, 3);
const processRandom = randomBytes(5);

/**
 * The contract fixes entity ids as MongoDB ObjectId-looking 24-hex strings. We build them the same
 * way (seconds, per-process random, counter) so they sort roughly by creation time, which keeps
 * B-tree inserts local and makes "newest first" cheap.
 */
export function objectId(now: Date = new Date()): string {
  const buf = Buffer.alloc(12);
  buf.writeUInt32BE(Math.floor(now.getTime() / 1000) >>> 0, 0);
  processRandom.copy(buf, 4);
  counter = (counter + 1) % 0xffffff;
  buf.writeUIntBE(counter, 9, 3);
  return buf.toString('hex');
}

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Prefixed, random, URL-safe ids (`key_`, `evt_`, `req_`), 22 base62 chars ≈ 131 bits. */
export function prefixedId(prefix: string, length = 22): string {
  const bytes = randomBytes(length * 2);
  let out = '';
  for (let i = 0; i < bytes.length && out.length < length; i++) {
    const b = bytes[i]!;
    // Rejection sampling keeps every character equally likely.
    if (b < 248) out += ALPHABET[b % 62];
  }
  while (out.length < length) out += ALPHABET[randomBytes(1)[0]! % 62];
  return `${prefix}_${out}`;
}

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

const requestPrefix = `req_${randomBytes(6).toString('base64url')}`;
let requestCounter = 0;

/**
 * Request ids only need to be unique, not unguessable: a per-process random prefix and a counter
 * cost nothing on the hot path, unlike drawing fresh random bytes for every request.
 */
export function requestId(): string {
  requestCounter = (requestCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${requestPrefix}${requestCounter.toString(36).padStart(6, '0')}`;
}
