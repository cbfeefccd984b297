// Part of /widget.js (see src/modules/widget/widget.asset.ts): the styles and the markup of one widget.
// Static markup only: every value from the API or the page is set later through textContent.

var CSS =
  ':host{all:initial;display:block;max-width:28rem;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1f36;' +
  '--a:var(--almoner-accent,#3a49e6)}' +
  '*{box-sizing:border-box}[hidden]{display:none!important}.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}' +
  '.w{background:#fff;border:1px solid #dfe3e8;border-radius:.6rem;padding:1rem}' +
  'h2{font-size:1.15rem;margin:0 0 .75rem;line-height:1.3}h2:focus{outline:0}' +
  'fieldset{border:0;margin:0 0 .75rem;padding:0;min-width:0}' +
  'legend,label.l{display:block;font-weight:600;font-size:.85rem;margin:0 0 .3rem;padding:0}' +
  'input[type=text],input[type=email],input[type=search]{width:100%;font:inherit;color:inherit;padding:.55rem .65rem;border:1px solid #9aa4b2;border-radius:.4rem;background:#fff}' +
  '.seg{display:flex;flex-wrap:wrap;gap:.4rem}.seg label{flex:1 1 3.6rem;position:relative}' +
  '.seg input{position:absolute;opacity:0;inset:0;margin:0;width:100%;height:100%;cursor:pointer}' +
  '.seg span{display:block;text-align:center;padding:.5rem .3rem;border:1px solid #9aa4b2;border-radius:.4rem;font-weight:600;white-space:nowrap}' +
  '.seg input:checked+span{background:var(--a);border-color:var(--a);color:#fff}' +
  ':focus-visible{outline:3px solid #ffb000;outline-offset:2px}.seg input:focus-visible+span{outline:3px solid #ffb000;outline-offset:2px}' +
  '.sub{margin-top:.5rem}.money{display:flex;align-items:center;gap:.35rem}' +
  '.row{display:flex;gap:.6rem;flex-wrap:wrap}.row>div{flex:1 1 8rem;min-width:0}.f{margin:0 0 .75rem}' +
  '.combo{position:relative}' +
  '[role=listbox]{position:absolute;z-index:2;left:0;right:0;top:100%;margin:.2rem 0 0;padding:.2rem;list-style:none;background:#fff;' +
  'border:1px solid #9aa4b2;border-radius:.4rem;box-shadow:0 6px 18px rgba(0,0,0,.12);max-height:16rem;overflow:auto}' +
  '[role=option]{padding:.45rem .5rem;border-radius:.3rem;cursor:pointer}[role=option] small{display:block;color:#5b6577}' +
  '[role=option][aria-selected=true]{background:#eef0ff;outline:2px solid var(--a)}' +
  '.org{display:flex;align-items:center;gap:.6rem;margin:0 0 .75rem}.org img{width:2.5rem;height:2.5rem;object-fit:contain;border-radius:.3rem}' +
  '.org div{flex:1;min-width:0}.org strong{display:block;overflow-wrap:anywhere}.muted,small{color:#5b6577;font-size:.82rem}' +
  'button{font:inherit;font-weight:600;border-radius:.4rem;cursor:pointer;padding:.7rem 1rem}' +
  '.go{width:100%;border:0;background:var(--a);color:#fff}.go[disabled]{opacity:.65;cursor:wait}' +
  '.link{border:0;background:none;color:var(--a);padding:.2rem;text-decoration:underline}' +
  '.sec{width:100%;margin-top:.5rem;background:#fff;color:#1a1f36;border:1px solid #9aa4b2}' +
  '.err{margin:.5rem 0;padding:.55rem .7rem;border-radius:.4rem;background:#fde8e8;color:#8a1c1c;border:1px solid #f5b5b5}' +
  '.sum{margin:.25rem 0 .6rem;font-size:.9rem}.fine{margin:.6rem 0 0;text-align:center}' +
  '.badge{display:inline-block;text-transform:uppercase;letter-spacing:.04em;font-size:.75rem;font-weight:700;padding:.15rem .5rem;border-radius:1rem;background:#eef0f4;margin:0 0 .5rem}' +
  '.badge[data-status=COMPLETED]{background:#dcf5e5;color:#14532d}.badge[data-status=FAILED],.badge[data-status=CANCELLED]{background:#fde8e8;color:#8a1c1c}' +
  '.tok{font-weight:700;font-size:1.05rem}' +
  '.spin{width:1.6rem;height:1.6rem;border:3px solid #dfe3e8;border-top-color:var(--a);border-radius:50%;animation:r 1s linear infinite;margin:.5rem 0}' +
  '@keyframes r{to{transform:rotate(1turn)}}@media (prefers-reduced-motion:reduce){.spin{animation-duration:3s}}';

var HTML =
  '<div class="w" part="container">' +
  '<p class="load" role="status" data-ref="load">Loading the donation form…</p>' +
  '<p class="err" role="alert" data-ref="fatal" hidden></p>' +
  '<form data-ref="form" novalidate hidden>' +
  '<h2 data-ref="title" tabindex="-1">Make a donation</h2>' +
  '<div class="f" data-ref="pick" hidden><label class="l" for="q">Find a nonprofit</label><div class="combo">' +
  '<input id="q" type="search" role="combobox" aria-autocomplete="list" aria-expanded="false" aria-controls="lb" autocomplete="off" ' +
  'placeholder="Name or EIN" aria-describedby="qh">' +
  '<ul id="lb" role="listbox" aria-label="Nonprofits" hidden></ul></div><small id="qh" aria-live="polite"></small></div>' +
  '<div class="org" data-ref="org" hidden><img data-ref="logo" alt="" hidden><div><strong data-ref="oname"></strong><small data-ref="oloc"></small></div>' +
  '<button type="button" class="link" data-ref="change" hidden>Change<span class="sr" data-ref="chg"></span></button></div>' +
  '<fieldset><legend>How often</legend><div class="seg">' +
  '<label><input type="radio" name="freq" value="once" checked><span>One time</span></label>' +
  '<label><input type="radio" name="freq" value="monthly"><span>Monthly</span></label></div></fieldset>' +
  '<fieldset><legend>Amount</legend><div class="seg" data-ref="amts"></div>' +
  '<div class="sub" data-ref="customAmt" hidden><label class="l" for="ca">Other amount (USD)</label>' +
  '<div class="money"><span aria-hidden="true">$</span><input id="ca" type="text" inputmode="decimal" autocomplete="off" placeholder="0.00"></div></div></fieldset>' +
  '<fieldset data-ref="tipBox" hidden><legend data-ref="tipLegend">Add a tip</legend><div class="seg" data-ref="tips"></div>' +
  '<div class="sub" data-ref="customTip" hidden><label class="l" for="ct">Tip percent</label>' +
  '<div class="money"><input id="ct" type="text" inputmode="decimal" autocomplete="off" placeholder="0"><span aria-hidden="true">%</span></div></div></fieldset>' +
  '<div class="row"><div class="f"><label class="l" for="fn">First name</label><input id="fn" type="text" autocomplete="given-name" maxlength="100"></div>' +
  '<div class="f"><label class="l" for="ln">Last name</label><input id="ln" type="text" autocomplete="family-name" maxlength="100"></div></div>' +
  '<div class="f"><label class="l" for="em">Email</label><input id="em" type="email" autocomplete="email" maxlength="254"></div>' +
  '<p class="sum" data-ref="sum" aria-live="polite"></p>' +
  '<p class="err" role="alert" data-ref="err" hidden></p>' +
  '<button type="submit" class="go" data-ref="go">Donate</button>' +
  '<p class="fine muted">You pay on a secure checkout page. Powered by almoner.</p></form>' +
  '<section data-ref="st" aria-live="polite" hidden><p class="badge" data-ref="badge"></p><h2 data-ref="sth" tabindex="-1"></h2>' +
  '<div class="spin" data-ref="spin" hidden></div><p data-ref="stm"></p><p class="tok" data-ref="tok" hidden></p>' +
  '<button type="button" class="go" data-ref="again">Make another donation</button>' +
  '<button type="button" class="sec" data-ref="recheck" hidden>Check again</button></section></div>';
