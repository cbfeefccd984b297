import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

const VERSION = 'v1';

/**
 * AES-256-GCM for secrets that must be recoverable (HMAC signing secrets, webhook secrets).
 * Each purpose gets its own subkey derived from the master key, and the purpose is bound as
 * associated data, so a ciphertext copied from one column to another does not decrypt.
 */
export class SecretBox {
  private readonly encKey: Buffer;

  constructor(masterKey: Buffer) {
    if (masterKey.length !== 32) throw new Error('master key must be 32 bytes');
    this.encKey = deriveKey(masterKey, 'almoner/secret-box/v1');
  }

  seal(plaintext: string, purpose: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.encKey, iv);
    cipher.setAAD(Buffer.from(purpose));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return `${VERSION}:${Buffer.concat([iv, tag, ct]).toString('base64')}`;
  }

  open(sealed: string, purpose: string): string {
    const [version, payload] = sealed.split(':', 2);
    if (version !== VERSION || !payload) throw new Error('unknown sealed secret format');
    const raw = Buffer.from(payload, 'base64');
    const iv = raw.subarray(0, 12);
    const tag = raw.subarray(12, 28);
    const ct = raw.subarray(28);
    const decipher = createDecipheriv('aes-256-gcm', this.encKey, iv);
    decipher.setAAD(Buffer.from(purpose));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ct), decipher.final()]).toString('utf8');
  }
}

/** HKDF-like one-step derivation; enough for fixed-length subkeys from a uniformly random master key. */
export function deriveKey(masterKey: Buffer, label: string): Buffer {
  return createHmac('sha256', masterKey).update(label).digest();
}
