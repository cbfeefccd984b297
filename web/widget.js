/*! almoner donation widget | Apache-2.0
 * <div data-almoner-donate data-key="pk_test_..." data-nonprofit="american-red-cross"></div>
 * <script src="https://YOUR-ALMONER-HOST/widget.js" async></script>
 * Optional attributes: data-nonprofit (omit it for a search box), data-external-user-id, data-referral-code,
 * data-amounts="10,25,50,100", data-target="_blank", data-success-url, data-cancel-url.
 * Hand-written and dependency-free on purpose: partners paste it into pages we do not control, so it
 * must stay small, touch nothing outside its shadow root and need no build step to audit.
 */
(function () {
  'use strict';
  if (window.AlmonerDonate) return;

  var script = document.currentScript;
  // API calls go to the host that served this file, wherever the partner's page lives.
  var API = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  var STORE = 'almoner-donate';
  var RETURN_PARAMS = ['partnerDonationId', 'almonerReturn'];

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

  function money(cents) {
    return (cents / 100).toLocaleString('en-US', { style: 'currency', currency: 'USD' });
  }

  /** "12.5", "$1,000" -> cents, exactly from the digits (no float rounding); NaN when not an amount. */
  function parseCents(text) {
    var m = /^\$?\s*(\d{1,3}(?:,?\d{3})*|\d+)(?:\.(\d{1,2}))?$/.exec(String(text).trim());
    if (!m) return NaN;
    return parseInt(m[1].replace(/,/g, ''), 10) * 100 + parseInt(((m[2] || '') + '00').slice(0, 2), 10);
  }

  /** "12.5" -> 1250 hundredths of a percent; NaN unless 0..100 with at most 2 decimals. */
  function parsePercent(text) {
    var m = /^(\d{1,3})(?:\.(\d{1,2}))?$/.exec(String(text).trim().replace(/%$/, ''));
    if (!m) return NaN;
    var v = parseInt(m[1], 10) * 100 + parseInt(((m[2] || '') + '00').slice(0, 2), 10);
    return v <= 10000 ? v : NaN;
  }

  /** The tip in cents for a percent in hundredths, rounded half up with integers only. */
  function tipCents(amount, pct) {
    return Math.floor((amount * pct + 5000) / 10000);
  }

  function returnUrl(extra) {
    var u = new URL(location.href);
    u.hash = '';
    // The hosted checkout adds its session_id to the success address; it belongs to the return too.
    if (u.searchParams.has('partnerDonationId')) u.searchParams.delete('session_id');
    RETURN_PARAMS.forEach(function (p) {
      u.searchParams.delete(p);
    });
    if (extra) u.searchParams.set('almonerReturn', extra);
    return u.toString();
  }

  function load() {
    try {
      return JSON.parse(sessionStorage.getItem(STORE) || 'null');
    } catch (e) {
      return null;
    }
  }

  function save(value) {
    try {
      sessionStorage.setItem(STORE, JSON.stringify(value));
    } catch (e) {
      /* storage blocked: the status view then shows less detail, nothing breaks */
    }
  }

  function mount(host) {
    if (!host || host.__almoner) return;
    host.__almoner = true;
    var key = host.getAttribute('data-key') || '';
    var data = function (name) {
      return (host.getAttribute('data-' + name) || '').trim();
    };
    var root = host.attachShadow({ mode: 'open' });
    if (root.adoptedStyleSheets && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
      // A constructed sheet is not inline style, so a partner page with a strict CSP still styles the widget.
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } else {
      var style = document.createElement('style');
      style.textContent = CSS;
      root.appendChild(style);
    }
    var box = document.createElement('div');
    box.innerHTML = HTML;
    root.appendChild(box.firstChild);
    var $ = {};
    Array.prototype.forEach.call(root.querySelectorAll('[data-ref]'), function (el) {
      $[el.getAttribute('data-ref')] = el;
    });
    var q = root.getElementById('q');
    var lb = root.getElementById('lb');
    var qh = root.getElementById('qh');
    var ca = root.getElementById('ca');
    var ct = root.getElementById('ct');
    var fn = root.getElementById('fn');
    var ln = root.getElementById('ln');
    var em = root.getElementById('em');

    var state = { org: null, tipOn: false, results: [], active: -1, seq: 0, timer: 0, poll: 0 };
    var fixedSlug = data('nonprofit');
    var presets = (data('amounts') || '10,25,50,100')
      .split(',')
      .map(parseCents)
      .filter(function (c) {
        return c >= 100;
      })
      .slice(0, 6);
    if (!presets.length) presets = [1000, 2500, 5000, 10000];

    function api(method, path, body) {
      var headers = { 'X-Partner-Key': key };
      if (body) headers['Content-Type'] = 'application/json';
      return fetch(API + path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined }).then(
        function (res) {
          return res
            .json()
            .catch(function () {
              return {};
            })
            .then(function (json) {
              if (res.ok) return json;
              var e = (json && typeof json.error === 'object' && json.error) || json || {};
              var err = new Error(e.message || 'The request failed (HTTP ' + res.status + ').');
              err.status = res.status;
              throw err;
            });
        },
        function () {
          throw new Error('Could not reach the donation service. Check your connection and try again.');
        },
      );
    }

    function radios(container, name, items) {
      container.innerHTML = '';
      items.forEach(function (it) {
        var label = document.createElement('label');
        var input = document.createElement('input');
        var span = document.createElement('span');
        input.type = 'radio';
        input.name = name;
        input.value = it.value;
        span.textContent = it.label;
        label.appendChild(input);
        label.appendChild(span);
        container.appendChild(label);
      });
    }

    function checked(name) {
      var el = root.querySelector('input[name=' + name + ']:checked');
      return el ? el.value : '';
    }

    function check(name, value) {
      var el = root.querySelector('input[name=' + name + '][value="' + value + '"]');
      if (el) el.checked = true;
      return !!el;
    }

    function fail(el, text) {
      el.textContent = text;
      el.hidden = !text;
    }

    // ---- nonprofit: fixed by the partner, or searched by the donor ----

    function showOrg(org) {
      state.org = org;
      $.pick.hidden = !!org || !!fixedSlug;
      $.org.hidden = !org;
      $.change.hidden = !org || !!fixedSlug;
      if (!org) return;
      $.oname.textContent = org.name;
      $.chg.textContent = ' nonprofit (' + org.name + ')';
      var where = [org.city, org.state].filter(Boolean).join(', ');
      $.oloc.textContent = where + (org.ein ? (where ? ' · ' : '') + 'EIN ' + org.ein : '');
      $.logo.hidden = !org.logoUrl;
      if (org.logoUrl) $.logo.src = org.logoUrl;
      $.title.textContent = 'Donate to ' + org.name;
    }

    function closeList() {
      lb.hidden = true;
      lb.innerHTML = '';
      state.results = [];
      state.active = -1;
      q.setAttribute('aria-expanded', 'false');
      q.removeAttribute('aria-activedescendant');
    }

    function setActive(i) {
      var opts = lb.children;
      if (!opts.length) return;
      state.active = (i + opts.length) % opts.length;
      for (var k = 0; k < opts.length; k++) opts[k].setAttribute('aria-selected', String(k === state.active));
      var el = opts[state.active];
      q.setAttribute('aria-activedescendant', el.id);
      if (el.scrollIntoView) el.scrollIntoView({ block: 'nearest' });
    }

    function choose(i) {
      var org = state.results[i];
      if (!org) return;
      closeList();
      showOrg(org);
      fail($.err, '');
      qh.textContent = '';
      $.change.focus();
    }

    function search() {
      var text = q.value.trim();
      var seq = ++state.seq;
      if (text.length < 2) {
        closeList();
        qh.textContent = text ? 'Type at least 2 characters.' : '';
        return;
      }
      qh.textContent = 'Searching…';
      api('GET', '/v1/partner/organizations?limit=8&q=' + encodeURIComponent(text)).then(
        function (res) {
          if (seq !== state.seq) return; // an older answer arriving after a newer one
          var list = (Array.isArray(res) ? res : (res && res.data) || []).filter(function (o) {
            return o && o.slug && o.name;
          });
          closeList();
          state.results = list;
          list.forEach(function (org, i) {
            var li = document.createElement('li');
            var small = document.createElement('small');
            li.id = 'o' + i;
            li.setAttribute('role', 'option');
            li.setAttribute('aria-selected', 'false');
            li.textContent = org.name;
            small.textContent = [org.city, org.state].filter(Boolean).join(', ');
            if (small.textContent) li.appendChild(small);
            li.addEventListener('mousedown', function (e) {
              e.preventDefault(); // keeps focus in the box until the click picks
            });
            li.addEventListener('click', function () {
              choose(i);
            });
            lb.appendChild(li);
          });
          lb.hidden = !list.length;
          q.setAttribute('aria-expanded', String(!!list.length));
          qh.textContent = list.length
            ? list.length + (list.length === 1 ? ' nonprofit found' : ' nonprofits found') + ': use the arrow keys to choose.'
            : 'No nonprofit matches “' + text + '”.';
        },
        function (err) {
          if (seq === state.seq) qh.textContent = err.message;
        },
      );
    }

    q.addEventListener('input', function () {
      clearTimeout(state.timer);
      state.timer = setTimeout(search, 200);
    });
    q.addEventListener('keydown', function (e) {
      var open = !lb.hidden;
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        if (open) setActive(state.active + (e.key === 'ArrowDown' ? 1 : -1));
        else search();
      } else if (e.key === 'Enter' && open) {
        e.preventDefault(); // picks the option instead of submitting the form
        choose(state.active < 0 ? 0 : state.active);
      } else if (e.key === 'Escape' && open) {
        e.preventDefault();
        closeList();
      }
    });
    q.addEventListener('blur', function () {
      setTimeout(function () {
        if (root.activeElement !== q) closeList();
      }, 150);
    });
    $.change.addEventListener('click', function () {
      showOrg(null);
      $.title.textContent = 'Make a donation';
      q.focus();
      q.select();
    });

    // ---- amount, tip, summary ----

    function amountCents() {
      var v = checked('amt');
      return v === 'other' ? parseCents(ca.value) : parseInt(v, 10);
    }

    function tipPercent() {
      if (!state.tipOn) return 0;
      var v = checked('tip');
      return v === 'other' ? parsePercent(ct.value) : parseInt(v, 10);
    }

    function update() {
      $.customAmt.hidden = checked('amt') !== 'other';
      $.customTip.hidden = checked('tip') !== 'other';
      var amount = amountCents();
      var pct = tipPercent();
      var monthly = checked('freq') === 'monthly';
      if (!(amount >= 100)) {
        $.sum.textContent = '';
        $.go.textContent = 'Donate';
        return;
      }
      var tip = pct >= 0 ? tipCents(amount, pct) : 0;
      var total = money(amount + tip) + (monthly ? ' monthly' : '');
      $.sum.textContent = tip ? money(amount) + ' donation + ' + money(tip) + ' tip = ' + total : 'Total: ' + total;
      $.go.textContent = 'Donate ' + total;
    }

    $.form.addEventListener('change', update);
    $.form.addEventListener('input', update);

    function validate() {
      if (!state.org) return [q, 'Choose a nonprofit to donate to.'];
      var amount = amountCents();
      if (!(amount >= 100 && amount <= 99999999)) return [ca, 'Enter an amount between $1.00 and $999,999.99.'];
      if (state.tipOn && isNaN(tipPercent())) return [ct, 'Enter a tip between 0 and 100 percent.'];
      var email = em.value.trim();
      if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) return [em, 'Enter a valid email address, or leave it empty.'];
      if (!email && checked('freq') === 'monthly') return [em, 'A monthly donation needs your email address, to manage it later.'];
      return null;
    }

    $.form.addEventListener('submit', function (e) {
      e.preventDefault();
      var problem = validate();
      if (problem) {
        fail($.err, problem[1]);
        if (!problem[0].closest('[hidden]')) problem[0].focus();
        return;
      }
      fail($.err, '');
      var amount = amountCents();
      var tip = state.tipOn ? tipCents(amount, tipPercent()) : 0;
      var body = {
        nonprofitSlug: state.org.slug,
        amount: amount,
        currency: 'USD',
        frequency: checked('freq') === 'monthly' ? 'monthly' : 'once',
        provider: 'stripe',
        successUrl: data('success-url') || returnUrl(),
        cancelUrl: data('cancel-url') || returnUrl('cancel'),
      };
      if (tip > 0) body.tipAmount = tip;
      [
        ['firstName', fn.value],
        ['lastName', ln.value],
        ['donorEmail', em.value],
        ['externalUserId', data('external-user-id')],
        ['referralCode', data('referral-code')],
      ].forEach(function (p) {
        if (p[1].trim()) body[p[0]] = p[1].trim();
      });
      // Opened now, while the click still counts as a user gesture, or popup blockers refuse it.
      var win = data('target') === '_blank' ? window.open('', '_blank') : null;
      $.go.disabled = true;
      $.go.setAttribute('aria-busy', 'true');
      $.go.textContent = 'Opening secure checkout…';
      api('POST', '/v1/partner/donations/create-link', body).then(
        function (res) {
          save({
            id: res.partnerDonationId,
            org: state.org,
            amount: amount,
            tip: tip,
            freq: body.frequency,
            amt: checked('amt'),
            ca: ca.value,
            tipChoice: checked('tip'),
            ct: ct.value,
            fn: fn.value,
            ln: ln.value,
            em: em.value,
            user: !!body.externalUserId,
          });
          if (win) {
            win.opener = null;
            win.location.href = res.donationLink;
            $.go.disabled = false;
            $.go.removeAttribute('aria-busy');
            update();
            showStatus(res.partnerDonationId, 'tab');
          } else {
            location.assign(res.donationLink);
          }
        },
        function (err) {
          if (win) win.close();
          $.go.disabled = false;
          $.go.removeAttribute('aria-busy');
          update();
          fail($.err, err.message);
        },
      );
    });

    // ---- status after the donor comes back ----

    var TITLES = {
      COMPLETED: 'Thank you!',
      FAILED: 'Your payment did not go through',
      CANCELLED: 'Donation cancelled',
      PENDING: 'Confirming your donation…',
    };

    function showStatus(id, how) {
      clearTimeout(state.poll);
      $.load.hidden = true;
      $.form.hidden = true;
      $.st.hidden = false;
      var saved = load();
      if (!saved || saved.id !== id) saved = null;
      var started = Date.now();
      var names = {};
      if (saved && saved.org) names[saved.org.slug] = saved.org.name;
      if (state.org) names[state.org.slug] = state.org.name;
      // In a new tab the donor may take minutes to pay; on return the answer is due within seconds.
      var limit = how === 'tab' ? 15 * 60000 : 20000;
      var every = how === 'tab' ? 2000 : 1000;
      render({ status: 'PENDING' }, saved, how, true);
      var tick = function () {
        api('GET', '/v1/partner/donations/status/' + encodeURIComponent(id)).then(
          function (st) {
            // Tokens come only for a signed-in donor (externalUserId), a moment after the payment.
            var rewarded = !saved || saved.user;
            var waiting = st.status === 'PENDING' ? how !== 'cancel' : st.status === 'COMPLETED' && st.tokensAwarded == null && rewarded;
            var more = waiting && Date.now() - started < limit;
            var slug = st.nonprofitSlug;
            // Back on a fresh page (storage blocked, another tab): name the nonprofit all the same.
            if (slug && !(slug in names)) {
              names[slug] = '';
              api('GET', '/v1/partner/organizations/' + encodeURIComponent(slug)).then(function (org) {
                names[slug] = (org && org.name) || '';
                if (!more) render(st, saved, how, false, names[slug]);
              }, function () {});
            }
            render(st, saved, how, more, names[slug]);
            if (more) state.poll = setTimeout(tick, every);
          },
          function (err) {
            render({ status: 'ERROR', message: err.message }, saved, how, false);
          },
        );
      };
      tick();
    }

    function render(st, saved, how, polling, orgName) {
      var status = st.status;
      var org = orgName ? ' to ' + orgName : '';
      var cents = typeof st.amount === 'number' ? st.amount : saved ? saved.amount : NaN;
      var amount = cents >= 0 ? money(cents) : '';
      var monthly = (st.frequency || (saved && saved.freq)) === 'monthly';
      var title = TITLES[status] || 'Something went wrong';
      var text = '';
      var retry = status === 'FAILED' || status === 'CANCELLED';
      if (status === 'COMPLETED') {
        text = monthly
          ? 'Your monthly donation of ' + amount + org + ' has started.'
          : 'Your donation of ' + amount + org + ' is complete.';
      } else if (status === 'FAILED') {
        text = (st.failureReason || 'The payment was declined.') + ' No money was taken.';
      } else if (status === 'CANCELLED') {
        text = 'No money was taken.';
      } else if (status === 'PENDING' && how === 'cancel') {
        title = 'Donation not completed';
        text = 'You left the payment page before paying. No money was taken.';
        retry = true;
      } else if (status === 'PENDING') {
        if (how === 'tab') title = 'Complete your donation in the new tab';
        text = polling ? 'This page updates by itself once your payment is confirmed.' : 'Your payment is not confirmed yet. Check again in a moment.';
      } else {
        text = st.message;
      }
      $.badge.setAttribute('data-status', status === 'ERROR' ? 'FAILED' : status);
      $.badge.textContent = status === 'ERROR' ? 'Error' : status.charAt(0) + status.slice(1).toLowerCase();
      $.badge.hidden = status === 'ERROR';
      $.sth.textContent = title;
      $.stm.textContent = text;
      $.spin.hidden = !polling;
      var tokens = st.tokensAwarded;
      $.tok.hidden = status !== 'COMPLETED' || polling || !(tokens > 0 || (tokens == null && saved && saved.user));
      $.tok.textContent =
        tokens > 0
          ? 'You earned ' + tokens.toLocaleString('en-US', { maximumFractionDigits: 2 }) + (tokens === 1 ? ' token.' : ' tokens.')
          : 'Your reward tokens are on their way.';
      $.again.textContent = retry ? 'Try again' : 'Make another donation';
      $.again.hidden = polling && status === 'PENDING';
      $.again.onclick = function () {
        restart(retry ? saved : null);
      };
      $.recheck.hidden = polling || status !== 'PENDING' || how === 'cancel';
      $.recheck.onclick = function () {
        showStatus(saved ? saved.id : currentId(), how);
      };
    }

    function restart(saved) {
      clearTimeout(state.poll);
      try {
        history.replaceState(history.state, '', returnUrl());
      } catch (e) {
        /* sandboxed frames may refuse; the form still works */
      }
      if (saved) {
        if (!fixedSlug && saved.org) showOrg(saved.org);
        check('freq', saved.freq);
        check('amt', saved.amt);
        ca.value = saved.ca || '';
        if (saved.tipChoice) check('tip', saved.tipChoice);
        ct.value = saved.ct || '';
        fn.value = saved.fn || '';
        ln.value = saved.ln || '';
        em.value = saved.em || '';
      }
      $.st.hidden = true;
      $.form.hidden = false;
      update();
      $.title.focus();
    }

    function currentId() {
      return new URLSearchParams(location.search).get('partnerDonationId');
    }

    // ---- start ----

    function fatal(message) {
      $.load.hidden = true;
      $.form.hidden = true;
      fail($.fatal, message);
      if (window.console) console.warn('[almoner widget] ' + message);
    }

    if (!/^[ps]k_/.test(key)) return fatal('This donation form is missing its publishable key (data-key="pk_...").');

    radios(
      $.amts,
      'amt',
      presets
        .map(function (c) {
          return { value: String(c), label: money(c).replace(/\.00$/, '') };
        })
        .concat([{ value: 'other', label: 'Other' }]),
    );
    check('amt', String(presets[Math.min(1, presets.length - 1)]));
    ca.addEventListener('focus', function () {
      check('amt', 'other');
    });

    var id = currentId();
    var returned = new URLSearchParams(location.search).get('almonerReturn');
    var ready = api('GET', '/v1/partner/config').then(function (cfg) {
      var tips = cfg && cfg.tipConfig;
      state.tipOn = !!(tips && tips.enabled);
      if (state.tipOn) {
        var def = Math.round(Number(tips.defaultPercent) * 100) || 0;
        radios($.tips, 'tip', [
          { value: '0', label: 'None' },
          { value: '500', label: '5%' },
          { value: '1000', label: '10%' },
          { value: '1500', label: '15%' },
          { value: 'other', label: 'Other' },
        ]);
        if (!check('tip', String(def))) {
          check('tip', 'other');
          ct.value = String(def / 100);
        }
        $.tipLegend.textContent = 'Add a tip to support ' + (cfg.name || 'this service');
        $.tipBox.hidden = false;
      }
      if (!fixedSlug) return showOrg(null);
      return api('GET', '/v1/partner/organizations/' + encodeURIComponent(fixedSlug)).then(showOrg, function (err) {
        throw new Error(err.status === 404 ? 'The nonprofit “' + fixedSlug + '” was not found.' : err.message);
      });
    });
    ready.then(
      function () {
        $.load.hidden = true;
        update();
        if (id) showStatus(id, returned === 'cancel' ? 'cancel' : 'return');
        else $.form.hidden = false;
      },
      function (err) {
        fatal('The donation form could not load: ' + err.message);
      },
    );
  }

  function mountAll() {
    Array.prototype.forEach.call(document.querySelectorAll('[data-almoner-donate]'), mount);
  }

  window.AlmonerDonate = { mount: mount, mountAll: mountAll };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', mountAll);
  else mountAll();
})();
