// services.js - every service the collector has seen (GET /api/v1/services),
// filterable; each links to its traces.  State: q (filter text),
// refresh (1 = reload every 10 s).
import { apiGet, errorBox, loadingBox, emptyBox } from './api.js';
import { setParams } from './router.js';
import { el, esc, serviceColour, fmtTime } from './util.js';

const REFRESH_MS = 10e3;

export function mount(root, params) {
  let q = params.get('q') || '';
  let refresh = params.get('refresh') === '1';
  let names = null;
  let ctl = null;
  let timer = 0;

  document.title = 'Services · Sightline';
  const filterIn = el('input.search', { type: 'search', placeholder: 'Filter services', 'aria-label': 'Filter services', value: q });
  const refreshIn = el('input', { type: 'checkbox', id: 's-refresh' });
  const updated = el('span.muted.updated', { 'aria-live': 'polite' });
  const countLbl = el('span.muted');
  const box = el('div.card.list');
  root.append(el('section.page', {},
    el('div.page-head', {}, el('h1', { text: 'Services' }), countLbl),
    el('div.filters', {}, el('label.field', {}, el('span.lbl', { text: 'Filter' }), filterIn), el('div.spacer'),
      el('label.toggle', { for: 's-refresh' }, refreshIn, el('span', { text: 'Auto-refresh 10 s' })), updated),
    box));

  filterIn.addEventListener('input', () => {
    q = filterIn.value;
    setParams({ q }, false);
    draw();
  });
  refreshIn.addEventListener('change', () => setParams({ refresh: refreshIn.checked ? '1' : '' }, true));

  async function load(silent) {
    if (ctl) ctl.abort();
    ctl = new AbortController();
    const my = ctl;
    if (!silent) box.replaceChildren(loadingBox('services'));
    try {
      const r = await apiGet('services', null, my.signal);
      if (my !== ctl) return;
      names = (r.services || []).map((s) => s.name).sort((a, b) => a.localeCompare(b));
      updated.textContent = `Updated ${fmtTime(Date.now() * 1000)}`;
      draw();
    } catch (e) {
      if (e.name === 'AbortError' || my !== ctl) return;
      if (silent && names) {
        updated.textContent = `Refresh failed: ${e.message}`;
        return;
      }
      countLbl.textContent = '';
      box.replaceChildren(errorBox(e, () => load(false)));
    }
  }

  function draw() {
    if (!names) return;
    const needle = q.trim().toLowerCase();
    const shown = needle ? names.filter((n) => n.toLowerCase().includes(needle)) : names;
    countLbl.textContent = needle ? `${shown.length} of ${names.length} services` : `${names.length} services`;
    if (!names.length) {
      box.replaceChildren(emptyBox('No services yet',
        'Services appear here once an instrumented program sends spans or logs to this collector.'));
      return;
    }
    if (!shown.length) {
      box.replaceChildren(emptyBox(`No service matches “${q}”`, 'Clear the filter to see every service.'));
      return;
    }
    let h = '<table class="tbl svc-tbl"><thead><tr><th>Service</th><th class="c-act">Traces</th></tr></thead><tbody>';
    for (const n of shown) {
      const enc = encodeURIComponent(n);
      h += `<tr><td><a class="rowlink" href="#/traces?service=${esc(enc)}"><span class="swatch" style="--c:${serviceColour(n)}"></span>` +
        `<span class="svc-name">${esc(n)}</span></a></td>` +
        `<td class="c-act"><a href="#/traces?service=${esc(enc)}&amp;range=15m">15 min</a>` +
        `<a href="#/traces?service=${esc(enc)}&amp;range=1h">1 h</a>` +
        `<a href="#/traces?service=${esc(enc)}&amp;range=24h">24 h</a></td></tr>`;
    }
    box.innerHTML = h + '</tbody></table>';
  }

  function schedule() {
    clearInterval(timer);
    timer = refresh ? setInterval(() => { if (!document.hidden) load(true); }, REFRESH_MS) : 0;
    refreshIn.checked = refresh;
  }

  schedule();
  load(false);
  return {
    update(p) {
      q = p.get('q') || '';
      if (filterIn.value !== q) filterIn.value = q;
      refresh = p.get('refresh') === '1';
      schedule();
      draw();
    },
    unmount() {
      if (ctl) ctl.abort();
      clearInterval(timer);
    },
  };
}
