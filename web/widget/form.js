// Part of /widget.js: the donation form (nonprofit, frequency, amount, tip, donor) and its submit.

var DEFAULT_PRESETS = [1000, 2500, 5000, 10000];
var TIP_CHOICES = [
  { value: '0', label: 'None' },
  { value: '500', label: '5%' },
  { value: '1000', label: '10%' },
  { value: '1500', label: '15%' },
  { value: 'other', label: 'Other' },
];

/** Wires the form of one widget; `onTab(partnerDonationId)` follows a checkout opened in a new tab. */
function donateForm(w, onTab) {
  var $ = w.$;
  var fixed = !!w.data('nonprofit');
  var tipOn = false;
  var checked = function (name) {
    return checkedValue(w.root, name);
  };
  var presets = (w.data('amounts') || '')
    .split(',')
    .map(parseCents)
    .filter(function (c) {
      return c >= 100 && c <= 99999999;
    })
    .slice(0, 6);
  if (!presets.length) presets = DEFAULT_PRESETS;

  radios(
    $.amts,
    'amt',
    presets
      .map(function (c) {
        return { value: String(c), label: money(c).replace(/\.00$/, '') };
      })
      .concat([{ value: 'other', label: 'Other' }]),
  );
  checkValue(w.root, 'amt', String(presets[Math.min(1, presets.length - 1)]));
  $.ca.addEventListener('focus', function () {
    checkValue(w.root, 'amt', 'other');
  });

  function showOrg(org) {
    w.org = org;
    $.pick.hidden = !!org || fixed;
    $.org.hidden = !org;
    $.change.hidden = !org || fixed;
    $.title.textContent = org ? 'Donate to ' + org.name : 'Make a donation';
    if (!org) return;
    $.oname.textContent = org.name;
    $.chg.textContent = ' nonprofit (' + org.name + ')';
    var where = [org.city, org.state].filter(Boolean).join(', ');
    $.oloc.textContent = where + (org.ein ? (where ? ' · ' : '') + 'EIN ' + org.ein : '');
    $.logo.hidden = !org.logoUrl;
    if (org.logoUrl) $.logo.src = org.logoUrl;
  }

  nonprofitSearch(w, function (org) {
    showOrg(org);
    showText($.err, '');
    // The search box is gone; its replacement takes the focus so the keyboard user is not lost.
    $.change.focus();
  });
  $.change.addEventListener('click', function () {
    showOrg(null);
    $.q.focus();
    $.q.select();
  });

  function amountCents() {
    var v = checked('amt');
    return v === 'other' ? parseCents($.ca.value) : parseInt(v, 10);
  }

  function tipPercent() {
    if (!tipOn) return 0;
    var v = checked('tip');
    return v === 'other' ? parsePercent($.ct.value) : parseInt(v, 10);
  }

  function update() {
    $.customAmt.hidden = checked('amt') !== 'other';
    $.customTip.hidden = checked('tip') !== 'other';
    var amount = amountCents();
    var pct = tipPercent();
    if (!(amount >= 100)) {
      $.sum.textContent = '';
      $.go.textContent = 'Donate';
      return;
    }
    var tip = pct >= 0 ? tipCents(amount, pct) : 0;
    var total = money(amount + tip) + (checked('freq') === 'monthly' ? ' monthly' : '');
    $.sum.textContent = tip ? money(amount) + ' donation + ' + money(tip) + ' tip = ' + total : 'Total: ' + total;
    $.go.textContent = 'Donate ' + total;
  }
  $.form.addEventListener('change', update);
  $.form.addEventListener('input', update);

  function validate() {
    if (!w.org) return [$.q, 'Choose a nonprofit to donate to.'];
    var amount = amountCents();
    if (!(amount >= 100 && amount <= 99999999)) return [$.ca, 'Enter an amount between $1.00 and $999,999.99.'];
    if (tipOn && isNaN(tipPercent())) return [$.ct, 'Enter a tip between 0 and 100 percent.'];
    var email = $.em.value.trim();
    if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) return [$.em, 'Enter a valid email address, or leave it empty.'];
    if (!email && checked('freq') === 'monthly') return [$.em, 'A monthly donation needs your email address, to manage it later.'];
    return null;
  }

  function busy(on) {
    $.go.disabled = on;
    if (on) {
      $.go.setAttribute('aria-busy', 'true');
      $.go.textContent = 'Opening secure checkout…';
    } else {
      $.go.removeAttribute('aria-busy');
      update();
    }
  }

  // Back from the checkout through the browser's back button, the page may come from the
  // back-forward cache exactly as it was left: with the button still busy.
  window.addEventListener('pageshow', function (e) {
    if (e.persisted && $.go.disabled) busy(false);
  });

  $.form.addEventListener('submit', function (e) {
    e.preventDefault();
    var problem = validate();
    showText($.err, problem ? problem[1] : '');
    if (problem) {
      if (!problem[0].closest('[hidden]')) problem[0].focus();
      return;
    }
    var amount = amountCents();
    var tip = tipOn ? tipCents(amount, tipPercent()) : 0;
    var body = {
      nonprofitSlug: w.org.slug,
      amount: amount,
      currency: 'USD',
      frequency: checked('freq') === 'monthly' ? 'monthly' : 'once',
      provider: 'stripe',
      successUrl: w.data('success-url') || returnUrl(),
      cancelUrl: w.data('cancel-url') || returnUrl('cancel'),
    };
    if (tip > 0) body.tipAmount = tip;
    [
      ['firstName', $.fn.value],
      ['lastName', $.ln.value],
      ['donorEmail', $.em.value],
      ['externalUserId', w.data('external-user-id')],
      ['referralCode', w.data('referral-code')],
    ].forEach(function (p) {
      if (p[1].trim()) body[p[0]] = p[1].trim();
    });
    // Opened now, while the click still counts as a user gesture, or popup blockers refuse it.
    var win = w.data('target') === '_blank' ? window.open('', '_blank') : null;
    busy(true);
    w.api('POST', '/v1/partner/donations/create-link', body).then(
      function (res) {
        save({
          id: res.partnerDonationId,
          org: w.org,
          amount: amount,
          freq: body.frequency,
          amt: checked('amt'),
          ca: $.ca.value,
          tipChoice: checked('tip'),
          ct: $.ct.value,
          fn: $.fn.value,
          ln: $.ln.value,
          em: $.em.value,
          user: !!body.externalUserId,
        });
        if (!win) return location.assign(res.donationLink);
        win.opener = null;
        win.location.href = res.donationLink;
        busy(false);
        onTab(res.partnerDonationId);
      },
      function (err) {
        if (win) win.close();
        busy(false);
        showText($.err, err.message);
      },
    );
  });

  return {
    showOrg: showOrg,
    update: update,
    /** Tips as the partner's config says: off, or the choices with its default percent picked. */
    setTips: function (tips, partnerName) {
      tipOn = !!(tips && tips.enabled);
      $.tipLegend.textContent = 'Add a tip to support ' + (partnerName || 'this service');
      $.tipBox.hidden = !tipOn;
      if (!tipOn) return;
      var def = Math.round(Number(tips.defaultPercent) * 100) || 0;
      radios($.tips, 'tip', TIP_CHOICES);
      if (!checkValue(w.root, 'tip', String(def))) {
        checkValue(w.root, 'tip', 'other');
        $.ct.value = String(def / 100);
      }
    },
    /** Back to the form, as the donor left it when `saved` (a try again) or fresh. */
    restore: function (saved) {
      if (saved) {
        if (!fixed && saved.org) showOrg(saved.org);
        checkValue(w.root, 'freq', saved.freq);
        checkValue(w.root, 'amt', saved.amt);
        if (saved.tipChoice) checkValue(w.root, 'tip', saved.tipChoice);
        ['ca', 'ct', 'fn', 'ln', 'em'].forEach(function (k) {
          $[k].value = saved[k] || '';
        });
      }
      update();
    },
  };
}
