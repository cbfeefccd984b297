import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** The same depth from src/ and dist/, as for migrations: the file ships beside the code, unbuilt. */
export const WIDGET_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web/widget.js');

export interface StaticAsset {
  identity: Buffer;
  gzip: Buffer;
  /** Strong validators, one per representation (a gzipped body is different bytes). */
  etag: string;
  gzipEtag: string;
}

/** Reads and compresses the file once: it only changes with a deploy, so per-request work would be waste. */
export async function loadAsset(file: string = WIDGET_FILE): Promise<StaticAsset> {
  const identity = await readFile(file);
  const hash = createHash('sha256').update(identity).digest('base64url').slice(0, 22);
  return { identity, gzip: gzipSync(identity, { level: 9 }), etag: `"${hash}"`, gzipEtag: `"${hash}-gz"` };
}

/** True unless the client lists no gzip (or `*`) or refuses it with q=0. */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  let star: boolean | undefined;
  for (const part of header.split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const ok = q === undefined || Number(q.slice(2)) > 0;
    if (name === 'gzip' || name === 'x-gzip') return ok;
    if (name === '*') star = ok;
  }
  return star ?? false;
}

/** If-None-Match against either representation's tag (a cache may hold either), or `*`. */
export function notModified(header: string | undefined, asset: StaticAsset): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === '*' || tag === asset.etag || tag === asset.gzipEtag;
  });
}
