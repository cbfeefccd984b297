// Part of /widget.js: one widget per [data-almoner-donate] element, in its own shadow root.

var REF_IDS = ['q', 'lb', 'qh', 'ca', 'ct', 'fn', 'ln', 'em'];

function attachStyles(root) {
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
}

function mount(host) {
  if (!host || host.__almoner) return;
  host.__almoner = true;
  var root = host.attachShadow({ mode: 'open' });
  attachStyles(root);
  var box = document.createElement('div');
  box.innerHTML = HTML;
  root.appendChild(box.firstChild);
  var $ = {};
  Array.prototype.forEach.call(root.querySelectorAll('[data-ref]'), function (el) {
    $[el.getAttribute('data-ref')] = el;
  });
  REF_IDS.forEach(function (id) {
    $[id] = root.getElementById(id);
  });
  var key = (host.getAttribute('data-key') || '').trim();
  var w = {
    root: root,
    $: $,
    org: null,
    data: function (name) {
      return (host.getAttribute('data-' + name) || '').trim();
    },
    api: function (method, path, body) {
      return request(key, method, path, body);
    },
  };

  function fatal(text) {
    $.load.hidden = true;
    $.form.hidden = true;
    showText($.fatal, text);
    if (window.console) console.warn('[almoner widget] ' + text);
  }
  if (!/^[ps]k_/.test(key)) return fatal('This donation form is missing its publishable key (data-key="pk_...").');

  var status;
  var form = donateForm(w, function (id) {
    status.show(id, 'tab');
  });
  status = statusView(w, function (saved) {
    form.restore(saved);
    $.form.hidden = false;
    $.title.focus();
  });

  var slug = w.data('nonprofit');
  var params = new URLSearchParams(location.search);
  w.api('GET', '/v1/partner/config')
    .then(function (cfg) {
      form.setTips(cfg && cfg.tipConfig, cfg && cfg.name);
      if (!slug) return form.showOrg(null);
      return w.api('GET', '/v1/partner/organizations/' + encodeURIComponent(slug)).then(form.showOrg, function (err) {
        throw new Error(err.status === 404 ? 'The nonprofit “' + slug + '” was not found.' : err.message);
      });
    })
    .then(
      function () {
        $.load.hidden = true;
        form.update();
        var id = params.get('partnerDonationId');
        if (id) status.show(id, params.get('almonerReturn') === 'cancel' ? 'cancel' : 'return');
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

// Loaded twice (two snippets on one page): the first copy serves every element.
if (!window.AlmonerDonate) {
  window.AlmonerDonate = { mount: mount, mountAll: mountAll };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', mountAll);
  else mountAll();
}
