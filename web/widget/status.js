// Part of /widget.js: the status view, once the donor is back from the checkout (or paying in a new tab).

var TITLES = {
  COMPLETED: 'Thank you!',
  FAILED: 'Your payment did not go through',
  CANCELLED: 'Donation cancelled',
  PENDING: 'Confirming your donation…',
};

function currentDonationId() {
  return new URLSearchParams(location.search).get('partnerDonationId');
}

/**
 * The status view of one widget. show(id, how) follows a donation: how is 'return' (back from the
 * checkout), 'cancel' (back through its cancel link) or 'tab' (paying in a new tab). `onRestart(saved)`
 * brings the form back, as the donor left it for a try again.
 */
function statusView(w, onRestart) {
  var $ = w.$;
  var poll = 0;

  function show(id, how) {
    clearTimeout(poll);
    $.form.hidden = true;
    $.st.hidden = false;
    var saved = load();
    if (!saved || saved.id !== id) saved = null;
    var started = Date.now();
    var names = {};
    if (saved && saved.org) names[saved.org.slug] = saved.org.name;
    if (w.org) names[w.org.slug] = w.org.name;
    // In a new tab the donor may take minutes to pay; on return the answer is due within seconds.
    var limit = how === 'tab' ? 15 * 60000 : 20000;
    var every = how === 'tab' ? 2000 : 1000;
    render({ status: 'PENDING' }, saved, how, true);
    var tick = function () {
      w.api('GET', '/v1/partner/donations/status/' + encodeURIComponent(id)).then(
        function (st) {
          // Tokens come only for a signed-in donor (externalUserId), a moment after the payment.
          var rewarded = !saved || saved.user;
          var waiting = st.status === 'PENDING' ? how !== 'cancel' : st.status === 'COMPLETED' && st.tokensAwarded == null && rewarded;
          var more = waiting && Date.now() - started < limit;
          var slug = st.nonprofitSlug;
          // Back on a fresh page (storage blocked, another tab): name the nonprofit all the same.
          if (slug && !(slug in names)) {
            names[slug] = '';
            w.api('GET', '/v1/partner/organizations/' + encodeURIComponent(slug)).then(
              function (org) {
                names[slug] = (org && org.name) || '';
                if (!more) render(st, saved, how, false, names[slug]);
              },
              function () {},
            );
          }
          render(st, saved, how, more, names[slug]);
          if (more) poll = setTimeout(tick, every);
        },
        function (err) {
          render({ status: 'ERROR', message: err.message }, saved, how, false);
        },
      );
    };
    tick();
  }

  function message(st, saved, how, polling, orgName) {
    var status = st.status;
    var org = orgName ? ' to ' + orgName : '';
    var cents = typeof st.amount === 'number' ? st.amount : saved ? saved.amount : NaN;
    var amount = cents >= 0 ? money(cents) : '';
    if (status === 'COMPLETED') {
      return (st.frequency || (saved && saved.freq)) === 'monthly'
        ? 'Your monthly donation of ' + amount + org + ' has started.'
        : 'Your donation of ' + amount + org + ' is complete.';
    }
    if (status === 'FAILED') return (st.failureReason || 'The payment was declined.') + ' No money was taken.';
    if (status === 'CANCELLED') return 'No money was taken.';
    if (status === 'PENDING' && how === 'cancel') return 'You left the payment page before paying. No money was taken.';
    if (status === 'PENDING') {
      return polling ? 'This page updates by itself once your payment is confirmed.' : 'Your payment is not confirmed yet. Check again in a moment.';
    }
    return st.message;
  }

  function render(st, saved, how, polling, orgName) {
    var status = st.status;
    var retry = status === 'FAILED' || status === 'CANCELLED' || (status === 'PENDING' && how === 'cancel');
    var title = TITLES[status] || 'Something went wrong';
    if (status === 'PENDING' && how === 'cancel') title = 'Donation not completed';
    else if (status === 'PENDING' && how === 'tab') title = 'Complete your donation in the new tab';
    $.badge.setAttribute('data-status', status);
    $.badge.textContent = status.charAt(0) + status.slice(1).toLowerCase();
    $.badge.hidden = status === 'ERROR';
    $.sth.textContent = title;
    $.stm.textContent = message(st, saved, how, polling, orgName);
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
      show(saved ? saved.id : currentDonationId(), how);
    };
  }

  function restart(saved) {
    clearTimeout(poll);
    try {
      history.replaceState(history.state, '', returnUrl());
    } catch (e) {
      /* sandboxed frames may refuse; the form still works */
    }
    $.st.hidden = true;
    onRestart(saved);
  }

  return { show: show };
}
