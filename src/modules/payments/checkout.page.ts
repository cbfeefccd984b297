import type { CheckoutLineItem } from '../../platform/db/schema.payments.js';
import { TEST_CARD_NUMBERS } from './sandbox-cards.js';

/** What the hosted checkout page needs; CheckoutService.view builds it. */
export interface CheckoutPageView {
  id: string;
  state: 'open' | 'complete' | 'expired';
  partnerName: string;
  mode: 'payment' | 'subscription';
  currency: string;
  digits: number;
  lines: CheckoutLineItem[];
  tip: bigint;
  tipInterval: string | null;
  extra: bigint;
  total: bigint;
  savedMethod: { brand: string; last4: string } | null;
  cancelUrl: string;
  successUrl: string | null;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Minor units to a display amount, from the integer digits so no float ever rounds a cent. */
export function formatMoney(minor: bigint, currency: string, digits: number): string {
  const negative = minor < 0n;
  const abs = (negative ? -minor : minor).toString().padStart(digits + 1, '0');
  const decimal = digits === 0 ? abs : `${abs.slice(0, -digits)}.${abs.slice(-digits)}`;
  // Intl takes a decimal string exactly (Intl.NumberFormat v3, Node 20).
  const formatted = new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(decimal as unknown as number);
  return negative ? `-${formatted}` : formatted;
}

const TEST_CARDS: [string, string][] = [
  ['4242424242424242', 'Succeeds'],
  ['4000000000009995', 'Declined: insufficient funds'],
  ['4000000000000002', 'Declined: generic decline'],
  ['4000000000000069', 'Declined: expired card'],
  ['4000000000000127', 'Declined: incorrect CVC'],
  ['4000002500003155', 'Asks for 3-D Secure authentication'],
];
for (const [n] of TEST_CARDS) if (!TEST_CARD_NUMBERS.has(n)) throw new Error(`${n} is not a sandbox test card`);
const spaced = (n: string) => n.replace(/(\d{4})(?=\d)/g, '$1 ');

/** The page's Content-Security-Policy: nothing external, only this response's own style and script. */
export const checkoutCsp = (nonce: string) =>
  `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; ` +
  `form-action 'none'; base-uri 'none'; frame-ancestors 'none'`;

const STYLE = `
*{box-sizing:border-box}body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1f36;background:#f6f8fa}
main{max-width:30rem;margin:0 auto;padding:1.25rem 1rem 3rem}h1{font-size:1.25rem;margin:.25rem 0 1rem}
.badge{display:inline-block;font-size:.75rem;font-weight:600;background:#ffe8a3;color:#5c4400;border-radius:.25rem;padding:.1rem .4rem}
section{background:#fff;border:1px solid #dfe3e8;border-radius:.5rem;padding:1rem;margin:0 0 1rem}
table{width:100%;border-collapse:collapse}td{padding:.3rem 0;vertical-align:top}td.n{text-align:right;white-space:nowrap;padding-left:1rem}
tr.total td{border-top:1px solid #dfe3e8;font-weight:700;padding-top:.6rem}.muted{color:#5b6577;font-size:.875rem}
label{display:block;font-weight:600;font-size:.875rem;margin:.75rem 0 .25rem}
input{width:100%;font:inherit;padding:.6rem .7rem;border:1px solid #b8c0cc;border-radius:.375rem;background:#fff}
.row{display:flex;gap:.75rem}.row>div{flex:1;min-width:0}
button,.link{font:inherit;font-weight:600;border-radius:.375rem;padding:.7rem 1rem;cursor:pointer}
button{width:100%;margin-top:1rem;border:0;background:#4353ff;color:#fff}button.secondary{background:#fff;color:#1a1f36;border:1px solid #b8c0cc}
button[disabled]{opacity:.6;cursor:wait}.link{display:block;text-align:center;color:#4353ff;text-decoration:underline}
:focus-visible{outline:3px solid #ffb000;outline-offset:2px}
.alert{border-radius:.375rem;padding:.7rem .8rem;margin-top:1rem;background:#fde8e8;color:#8a1c1c;border:1px solid #f5b5b5}
.ok{background:#e6f6ec;color:#14532d;border-color:#a7dcb9}[hidden]{display:none!important}
ul.cards{list-style:none;padding:0;margin:.5rem 0 0}ul.cards li{margin:.25rem 0}
ul.cards button{width:auto;margin:0;padding:.25rem .5rem;background:#eef0ff;color:#1a1f36;font-family:ui-monospace,monospace;font-weight:500}
`;

const SCRIPT = `
(function () {
  var main = document.querySelector('main');
  var payUrl = main.getAttribute('data-pay');
  var form = document.getElementById('card-form');
  var alertBox = document.getElementById('message');
  var tds = document.getElementById('three-ds');
  var busy = false;
  function show(text, ok) {
    alertBox.textContent = text;
    alertBox.className = ok ? 'alert ok' : 'alert';
    alertBox.hidden = !text;
  }
  function setBusy(on) {
    busy = on;
    document.querySelectorAll('button').forEach(function (b) { b.disabled = on; });
  }
  function send(body) {
    if (busy) return;
    setBusy(true);
    show('');
    fetch(payUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      .then(function (res) { return res.json().then(function (json) { return { ok: res.ok, json: json }; }); })
      .then(function (r) {
        setBusy(false);
        if (!r.ok) { show(r.json.message || 'Something went wrong; please try again.'); return; }
        var p = r.json;
        if (p.redirectUrl) { show('Payment succeeded. Redirecting...', true); window.location.assign(p.redirectUrl); return; }
        if (p.status === 'requires_action') {
          form.hidden = true; tds.hidden = false; document.getElementById('auth-ok').focus(); return;
        }
        tds.hidden = true; form.hidden = false;
        show((p.error && p.error.message) || 'Your card was declined.');
        document.getElementById('number').focus();
      })
      .catch(function () { setBusy(false); show('Could not reach the server; check your connection and try again.'); });
  }
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var number = document.getElementById('number').value.replace(/[\\s-]/g, '');
    var exp = /^\\s*(\\d{1,2})\\s*\\/\\s*(\\d{2}|\\d{4})\\s*$/.exec(document.getElementById('exp').value);
    if (!/^\\d{12,19}$/.test(number)) { show('Enter the card number (12 to 19 digits).'); document.getElementById('number').focus(); return; }
    if (!exp || +exp[1] < 1 || +exp[1] > 12) { show('Enter the expiry date as MM/YY.'); document.getElementById('exp').focus(); return; }
    var year = exp[2].length === 2 ? 2000 + +exp[2] : +exp[2];
    var card = { number: number, expMonth: +exp[1], expYear: year, cvc: document.getElementById('cvc').value.trim() };
    var name = document.getElementById('name').value.trim();
    if (name) card.name = name;
    send({ card: card });
  });
  document.getElementById('auth-ok').addEventListener('click', function () { send({ authenticate: true }); });
  document.getElementById('auth-fail').addEventListener('click', function () { send({ authenticate: false }); });
  var saved = document.getElementById('pay-saved');
  if (saved) saved.addEventListener('click', function () { send({}); });
  document.querySelectorAll('[data-card]').forEach(function (b) {
    b.addEventListener('click', function () {
      var n = document.getElementById('number');
      n.value = b.getAttribute('data-card');
      if (!document.getElementById('exp').value) document.getElementById('exp').value = '12/34';
      if (!document.getElementById('cvc').value) document.getElementById('cvc').value = '123';
      n.focus();
    });
  });
})();
`;

function page(title: string, nonce: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><link rel="icon" href="data:,"><title>${escapeHtml(title)}</title><style nonce="${nonce}">${STYLE}</style></head><body>${body}</body></html>`;
}

export function renderCheckoutPage(v: CheckoutPageView, nonce: string): string {
  const money = (minor: bigint) => formatMoney(minor, v.currency, v.digits);
  const every = (interval: string | null) => (interval ? ` / ${interval}` : '');
  const title = `Donate to ${v.partnerName}`;
  const header = `<p><span class="badge">Sandbox: test cards only</span></p><h1>${escapeHtml(title)}</h1>`;
  if (v.state !== 'open') {
    const text =
      v.state === 'complete'
        ? `<p>This donation is already paid. Thank you!</p>${v.successUrl ? `<a class="link" href="${escapeHtml(v.successUrl)}">Continue</a>` : ''}`
        : `<p>This checkout has expired. Ask ${escapeHtml(v.partnerName)} for a new payment link.</p><a class="link" href="${escapeHtml(v.cancelUrl)}">Go back</a>`;
    return page(title, nonce, `<main id="checkout" data-state="${v.state}">${header}<section role="status">${text}</section></main>`);
  }
  const rows = v.lines
    .map((l) => {
      const qty = l.quantity > 1 ? ` <span class="muted">× ${l.quantity} at ${money(BigInt(l.unitAmount))}</span>` : '';
      return `<tr><td>${escapeHtml(l.name)}${qty}</td><td class="n">${money(BigInt(l.unitAmount) * BigInt(l.quantity))}${every(l.interval)}</td></tr>`;
    })
    .join('');
  const tip = v.tip > 0n ? `<tr><td>Tip</td><td class="n">${money(v.tip)}${every(v.tipInterval)}</td></tr>` : '';
  const extra = v.extra > 0n ? `<tr><td>Processing costs you cover</td><td class="n">${money(v.extra)}</td></tr>` : '';
  const saved = v.savedMethod
    ? `<section><button type="button" id="pay-saved">Pay ${money(v.total)} with saved ${escapeHtml(v.savedMethod.brand)} •••• ${escapeHtml(v.savedMethod.last4)}</button>
<p class="muted">or pay with another card below.</p></section>`
    : '';
  const cards = TEST_CARDS.map(([n, what]) => `<li><button type="button" data-card="${spaced(n)}" aria-label="Use test card ${spaced(n)}: ${what}">${spaced(n)}</button> <span class="muted">${what}</span></li>`).join('');
  const body = `<main id="checkout" data-state="open" data-pay="/checkout/${escapeHtml(v.id)}/pay">${header}
<section aria-label="Order summary"><table><tbody>${rows}${tip}${extra}
<tr class="total"><td>Total</td><td class="n" id="total">${money(v.total)}</td></tr></tbody></table>
${v.mode === 'subscription' ? '<p class="muted">Recurring: you will be charged again each period until you cancel.</p>' : ''}</section>
${saved}
<section><form id="card-form" novalidate aria-describedby="message">
<label for="number">Card number</label><input id="number" name="number" inputmode="numeric" autocomplete="cc-number" placeholder="4242 4242 4242 4242" required>
<div class="row"><div><label for="exp">Expiry (MM/YY)</label><input id="exp" name="exp" inputmode="numeric" autocomplete="cc-exp" placeholder="12/34" required></div>
<div><label for="cvc">CVC</label><input id="cvc" name="cvc" inputmode="numeric" autocomplete="cc-csc" placeholder="123" maxlength="4"></div></div>
<label for="name">Name on card</label><input id="name" name="name" autocomplete="cc-name">
<button type="submit" id="pay">Pay ${money(v.total)}</button>
</form>
<div id="three-ds" hidden role="group" aria-labelledby="three-ds-title"><h2 id="three-ds-title">Authenticate this payment</h2>
<p>Your bank asks you to confirm this payment (a 3-D Secure test challenge).</p>
<button type="button" id="auth-ok">Complete authentication</button><button type="button" class="secondary" id="auth-fail">Fail authentication</button></div>
<div id="message" class="alert" role="alert" aria-live="assertive" hidden></div></section>
<section aria-labelledby="cards-title"><h2 id="cards-title" class="muted">Test cards (any future expiry, any CVC)</h2><ul class="cards">${cards}</ul></section>
<a class="link" id="cancel" href="${escapeHtml(v.cancelUrl)}">Cancel and go back</a>
<script nonce="${nonce}">${SCRIPT}</script></main>`;
  return page(title, nonce, body);
}
