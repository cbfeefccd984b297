import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export async function ensureDataDir(dir: string) {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

/** Reads a generated secret from the data dir, creating it (mode 0600) on first use. */
export async function readOrCreateSecret(dir: string, file: string, generate: () => string): Promise<string> {
  const full = path.join(dir, file);
  try {
    return (await readFile(full, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const value = generate();
  // 'wx' fails if another process created it meanwhile; then read theirs.
  try {
    await writeFile(full, `${value}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return (await readFile(full, 'utf8')).trim();
    throw err;
  }
  return value;
}

/** Written to a private temp file and renamed, so the secrets are never readable by others, even briefly. */
export async function writePrivateJson(file: string, value: unknown) {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600, flag: 'w' });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

export const newMasterKeyHex = () => randomBytes(32).toString('hex');
export const newOperatorToken = () => `op_${randomBytes(24).toString('hex')}`;
