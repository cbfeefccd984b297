// Part of /widget.js: page-independent helpers (money, parsing, the return address, storage, the API).

var script = document.currentScript;
// API calls go to the host that served this file, wherever the partner's page lives.
var API = script && script.src ? new URL(script.src, location.href).origin : location.origin;
var STORE = 'almoner-donate';
var RETURN_PARAMS = ['partnerDonationId', 'almonerReturn'];

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

/** This page's address without what a donation's return added to it; `extra` marks a cancel. */
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

/** A widget route with the publishable key; rejects with the API's own message for the donor to read. */
function request(key, method, path, body) {
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

function showText(el, text) {
  el.textContent = text;
  el.hidden = !text;
}

function checkedValue(root, name) {
  var el = root.querySelector('input[name=' + name + ']:checked');
  return el ? el.value : '';
}

function checkValue(root, name, value) {
  var el = root.querySelector('input[name=' + name + '][value="' + value + '"]');
  if (el) el.checked = true;
  return !!el;
}

/** Real radio inputs styled as buttons: the browser gives them arrow keys and one tab stop per group. */
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
