import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** The same depth from src/ and dist/, as for migrations: the sources ship beside the code, unbuilt. */
export const WIDGET_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web/widget');

/** The parts of /widget.js in the order they are joined; later parts use what earlier ones declare. */
export const WIDGET_PARTS = ['markup.js', 'util.js', 'search.js', 'form.js', 'status.js', 'mount.js'];

// One function scope around the parts: nothing but window.AlmonerDonate reaches the partner's page,
// while each part stays a short, plain script that reads as it is served (no build step, no bundler).
const HEAD = `/*! almoner donation widget | Apache-2.0
 * <div data-almoner-donate data-key="pk_test_..." data-nonprofit="american-red-cross"></div>
 * <script src="https://YOUR-ALMONER-HOST/widget.js" async></script>
 * Optional: data-nonprofit (omit it for a search box), data-external-user-id, data-referral-code,
 * data-amounts="10,25,50,100", data-target="_blank", data-success-url, data-cancel-url.
 */
(function () {
'use strict';
`;
const TAIL = '})();\n';

/** The script as served: the parts joined inside one function scope. */
export async function buildWidget(dir: string = WIDGET_DIR): Promise<Buffer> {
  const parts = await Promise.all(WIDGET_PARTS.map((name) => readFile(path.join(dir, name), 'utf8')));
  return Buffer.from(HEAD + parts.join('\n') + TAIL, 'utf8');
}

export interface StaticAsset {
  identity: Buffer;
  gzip: Buffer;
  /** Strong validators, one per representation (a gzipped body is different bytes). */
  etag: string;
  gzipEtag: string;
}

/** Builds and compresses the script once: it only changes with a deploy, so per-request work would be waste. */
export async function loadAsset(): Promise<StaticAsset> {
  const identity = await buildWidget();
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
