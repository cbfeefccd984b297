import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CREDENTIALS_FILE } from '../partners/sandbox.js';

/** The signed-in user the demo page donates as, so the rewards a donation earns can be looked up. */
export const DEMO_DONOR = 'demo_donor';

/**
 * The sandbox partner's publishable key, from the file the embedded first start writes. Read per
 * request because the file appears after the app is built (and is rewritten when its key is
 * replaced); a missing or unreadable file means no live demo, never an error page.
 */
export async function sandboxPublishableKey(dataDir: string): Promise<string | undefined> {
  try {
    const creds = JSON.parse(await readFile(path.join(dataDir, CREDENTIALS_FILE), 'utf8')) as { publishableKey?: unknown };
    return typeof creds.publishableKey === 'string' && /^pk_test_[A-Za-z0-9]+$/.test(creds.publishableKey) ? creds.publishableKey : undefined;
  } catch {
    return undefined;
  }
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Only this response's own style, the widget script from this host and calls back to it. */
export const demoCsp = (nonce: string) =>
  `default-src 'none'; script-src 'self'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data: https:; ` +
  `base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

const STYLE = `
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1f36;background:#f6f8fa}
main{max-width:46rem;margin:0 auto;padding:1.5rem 1rem 3rem}h1{margin:0 0 .25rem;font-size:1.6rem}h2{font-size:1.15rem;margin:2rem 0 .5rem}
.lead{margin:0 0 1.25rem;color:#3c4557}.demo{display:flex;justify-content:center;margin:1rem 0}
.demo>div{width:100%;max-width:28rem}.note{font-size:.9rem;color:#3c4557;background:#fff;border:1px solid #dfe3e8;border-radius:.5rem;padding:.75rem 1rem}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85rem}pre{background:#1a1f36;color:#e8eaf2;padding:1rem;border-radius:.5rem;overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}td{border-top:1px solid #dfe3e8;padding:.4rem .5rem .4rem 0;vertical-align:top}
td:first-child{white-space:nowrap}a{color:#3a49e6}nav{margin-top:2rem}:focus-visible{outline:3px solid #ffb000;outline-offset:2px}
@media (max-width:30rem){td:first-child{white-space:normal;word-break:break-all}}
`;

const ATTRIBUTES: [string, string][] = [
  ['data-key', 'Your publishable key (pk_test_… or pk_live_…). Required.'],
  ['data-nonprofit', 'A nonprofit slug, e.g. american-red-cross. Leave it out to let the donor search the directory.'],
  ['data-external-user-id', 'Your id of the signed-in user: their donations earn them tokens.'],
  ['data-referral-code', 'Passed on with the donation.'],
  ['data-amounts', 'Preset amounts in dollars, default "10,25,50,100".'],
  ['data-target', '"_blank" opens the checkout in a new tab and follows the donation from your page.'],
  ['data-success-url, data-cancel-url', 'Where the donor comes back to; by default the page the widget is on.'],
];

export interface DemoPageView {
  publicUrl: string;
  publishableKey: string | undefined;
}

export function renderDemoPage(view: DemoPageView, nonce: string): string {
  const script = `${view.publicUrl}/widget.js`;
  const key = view.publishableKey;
  const snippet =
    `<div data-almoner-donate data-key="${key ?? 'pk_test_YOUR_PUBLISHABLE_KEY'}" data-nonprofit="american-red-cross"></div>\n` +
    `<script src="${script}" async></script>`;
  const live = key
    ? `<p class="note">Live with this server's sandbox partner. Pay with the test card <code>4242 4242 4242 4242</code> (any future
expiry, any CVC); <code>4000 0000 0000 0002</code> is declined. No real money moves. Donations here are made as the signed-in user
<code>${DEMO_DONOR}</code>, who earns tokens for each one (<code>GET /v1/partner/users/${DEMO_DONOR}/balance</code>).</p>
<div class="demo"><div data-almoner-donate data-key="${escapeHtml(key)}" data-external-user-id="${DEMO_DONOR}"></div></div>`
    : `<p class="note">This server has no sandbox partner, so there is no live demo here. Create a key pair in the partner
portal (<code>POST /v1/partner/keys</code>) and put the publishable key in the snippet below.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>almoner: donations and rewards for your product</title><link rel="icon" href="data:,">
<style nonce="${nonce}">${STYLE}</style></head>
<body><main>
<h1>almoner</h1>
<p class="lead">Charitable giving and prosocial rewards for your product: take donations to any US nonprofit and reward
your users with tokens through the Partner API, a Givinga-compatible Payments API and signed webhooks.</p>
<h2>The donation widget</h2>
${live}
<h2>Put it on your page</h2>
<pre><code>${escapeHtml(snippet)}</code></pre>
<table><tbody>${ATTRIBUTES.map(([a, d]) => `<tr><td><code>${a}</code></td><td>${escapeHtml(d)}</td></tr>`).join('')}</tbody></table>
<p>The widget keeps its styles to itself (shadow DOM); set <code>--almoner-accent</code> on its element to change its colour.</p>
<nav>API documentation: <a href="/partner-api">Partner API</a> · <a href="/payments-api">Payments API</a></nav>
</main>${key ? '<script src="/widget.js" async></script>' : ''}</body></html>`;
}
