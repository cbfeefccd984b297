// Part of /widget.js: the nonprofit search box, an ARIA 1.2 combobox with a list box of results.

/** Wires the search box of one widget; `onPick(org)` gets the organization the donor chose. */
function nonprofitSearch(w, onPick) {
  var q = w.$.q;
  var lb = w.$.lb;
  var qh = w.$.qh;
  var results = [];
  var active = -1;
  var seq = 0;
  var timer = 0;

  function close() {
    lb.hidden = true;
    lb.innerHTML = '';
    results = [];
    active = -1;
    q.setAttribute('aria-expanded', 'false');
    q.removeAttribute('aria-activedescendant');
  }

  function setActive(i) {
    var opts = lb.children;
    if (!opts.length) return;
    active = (i + opts.length) % opts.length;
    for (var k = 0; k < opts.length; k++) opts[k].setAttribute('aria-selected', String(k === active));
    var el = opts[active];
    q.setAttribute('aria-activedescendant', el.id);
    if (el.scrollIntoView) el.scrollIntoView({ block: 'nearest' });
  }

  function choose(i) {
    var org = results[i];
    if (!org) return;
    close();
    qh.textContent = '';
    onPick(org);
  }

  function option(org, i) {
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
    return li;
  }

  function search() {
    var text = q.value.trim();
    var mine = ++seq;
    if (text.length < 2) {
      close();
      qh.textContent = text ? 'Type at least 2 characters.' : '';
      return;
    }
    qh.textContent = 'Searching…';
    w.api('GET', '/v1/partner/organizations?limit=8&q=' + encodeURIComponent(text)).then(
      function (res) {
        if (mine !== seq) return; // an older answer arriving after a newer one
        var list = (Array.isArray(res) ? res : (res && res.data) || []).filter(function (o) {
          return o && o.slug && o.name;
        });
        close();
        results = list;
        list.forEach(function (org, i) {
          lb.appendChild(option(org, i));
        });
        lb.hidden = !list.length;
        q.setAttribute('aria-expanded', String(!!list.length));
        qh.textContent = list.length
          ? list.length + (list.length === 1 ? ' nonprofit found' : ' nonprofits found') + ': use the arrow keys to choose.'
          : 'No nonprofit matches “' + text + '”.';
      },
      function (err) {
        if (mine === seq) qh.textContent = err.message;
      },
    );
  }

  q.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(search, 200);
  });
  q.addEventListener('keydown', function (e) {
    var open = !lb.hidden;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (open) setActive(active + (e.key === 'ArrowDown' ? 1 : -1));
      else search();
    } else if (e.key === 'Enter' && open) {
      e.preventDefault(); // picks the option instead of submitting the form
      choose(active < 0 ? 0 : active);
    } else if (e.key === 'Escape' && open) {
      e.preventDefault();
      close();
    }
  });
  q.addEventListener('blur', function () {
    setTimeout(function () {
      if (w.root.activeElement !== q) close();
    }, 150);
  });
}
