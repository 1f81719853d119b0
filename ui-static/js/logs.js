// logs.js - log search (GET /api/v1/logs): filters for service, minimum
// level, text and time; newest first with "Load older" paging by cursor;
// live tail by polling for records newer than the newest shown; each line
// with a trace links to that trace at its span.  The SDK's own
// "sightline.sdk.stats" records are hidden unless sdk=1.
// State: service, level, q, sdk=1, live=1, and the time range.
import { apiGet, errorBox, loadingBox, emptyBox } from './api.js';
import { setParams, buildHash } from './router.js';
import { el, esc, fmtTime, fmtValue, serviceColour } from './util.js';
import { readRange, rangeQuery, rangePicker } from './timerange.js';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const PAGE = 100;
const TAIL_MS = 2000;
const MAX_LINES = 5000;
const SDK_BODY = 'sightline.sdk.stats';

function readState(p) {
  const lv = p.get('level') || '';
  return {
    ...readRange(p),
    service: p.get('service') || '',
    level: LEVELS.includes(lv) ? lv : '',
    q: p.get('q') || '',
    sdk: p.get('sdk') === '1',
    live: p.get('live') === '1',
  };
}

const keyOf = (l) => `${l.time_ns}|${l.service}|${l.span_id}|${l.body}`;

export function mount(root, params) {
  let st = readState(params);
  let ctl = null;
  let lines = []; // newest first
  let keys = new Set();
  let cursor = '';
  let hidden = 0;
  let tailTimer = 0;
  let tailBusy = false;
  document.title = 'Logs · Sightline';

  const svcSel = el('select', { id: 'l-service', 'aria-label': 'Service' }, el('option', { value: '', text: 'All services' }));
  const lvSel = el('select', { id: 'l-level', 'aria-label': 'Minimum level' }, el('option', { value: '', text: 'Any level' }),
    LEVELS.slice(1).map((l) => el('option', { value: l, text: l === 'fatal' ? 'fatal' : `${l} and above` })));
  const qIn = el('input.search', { type: 'search', id: 'l-q', placeholder: 'Text in the message (case-sensitive)', 'aria-label': 'Text in the message' });
  const sdkIn = el('input', { type: 'checkbox', id: 'l-sdk' });
  const liveIn = el('input', { type: 'checkbox', id: 'l-live' });
  const picker = rangePicker('l', { refresh: false });
  const form = el('form.filters', { 'aria-label': 'Log filters' },
    el('label.field', {}, el('span.lbl', { text: 'Service' }), svcSel),
    el('label.field', {}, el('span.lbl', { text: 'Level' }), lvSel),
    el('label.field', {}, el('span.lbl', { text: 'Text' }), qIn),
    el('button.btn.btn-primary', { type: 'submit', text: 'Search' }),
    el('label.toggle', { for: 'l-sdk', title: `Show the SDKs’ own “${SDK_BODY}” records` }, sdkIn, el('span', { text: 'SDK stats records' })));
  const liveLbl = el('span.live-dot', { hidden: true, text: 'live' });
  const countLbl = el('span.muted');
  const box = el('div.card.list.logs-page');
  const more = el('div.more', { hidden: true });
  root.append(el('section.page', {},
    el('div.page-head', {}, el('h1', { text: 'Logs' }), countLbl, liveLbl),
    form,
    el('div.filters', {}, picker.node, el('label.toggle', { for: 'l-live' }, liveIn, el('span', { text: 'Live tail (every 2 s)' }))),
    box, more));

  form.addEventListener('submit', (e) => { e.preventDefault(); setParams({ q: qIn.value }, true); });
  svcSel.addEventListener('change', () => setParams({ service: svcSel.value }, true));
  lvSel.addEventListener('change', () => setParams({ level: lvSel.value }, true));
  sdkIn.addEventListener('change', () => setParams({ sdk: sdkIn.checked ? '1' : '' }, true));
  liveIn.addEventListener('change', () => setParams({ live: liveIn.checked ? '1' : '' }, true));
  more.addEventListener('click', (e) => { if (e.target.closest('button')) page(); });

  function sync() {
    svcSel.value = st.service;
    if (svcSel.value !== st.service) { svcSel.append(el('option', { value: st.service, text: st.service })); svcSel.value = st.service; }
    lvSel.value = st.level;
    qIn.value = st.q;
    sdkIn.checked = st.sdk;
    liveIn.checked = st.live;
    liveLbl.hidden = !st.live;
    picker.sync(st);
  }

  async function loadServices() {
    try {
      const r = await apiGet('services', { since: '7d' });
      for (const s of r.services || [])
        if (![...svcSel.options].some((o) => o.value === s.name)) svcSel.append(el('option', { value: s.name, text: s.name }));
      svcSel.value = st.service;
    } catch {
      // The filter still works from the URL.
    }
  }

  const filt = () => ({ service: st.service, level: st.level, q: st.q });
  const keep = (l) => st.sdk || l.body !== SDK_BODY;

  async function load() {
    if (ctl) ctl.abort();
    ctl = new AbortController();
    const my = ctl;
    lines = [];
    keys = new Set();
    hidden = 0;
    cursor = '';
    box.replaceChildren(loadingBox('logs'));
    more.hidden = true;
    try {
      const r = await apiGet('logs', { ...filt(), ...rangeQuery(st), limit: PAGE }, my.signal);
      if (my !== ctl) return;
      add(r.logs || [], false);
      cursor = r.next_cursor || '';
      // Pages of mostly hidden SDK records: read on (a few pages) so the
      // first screen is not empty while matching lines exist further back.
      for (let k = 0; k < 4 && cursor && lines.length < 20; k++) {
        const r2 = await apiGet('logs', { ...filt(), ...rangeQuery(st), limit: PAGE, cursor }, my.signal);
        if (my !== ctl) return;
        add(r2.logs || [], false);
        cursor = r2.next_cursor || '';
      }
      draw();
    } catch (e) {
      if (e.name === 'AbortError' || my !== ctl) return;
      countLbl.textContent = '';
      box.replaceChildren(errorBox(e, load));
    }
  }

  async function page() {
    if (!cursor) return;
    const my = ctl;
    const btn = more.querySelector('button');
    if (btn) { btn.disabled = true; btn.textContent = 'Loading…'; }
    try {
      const r = await apiGet('logs', { ...filt(), ...rangeQuery(st), limit: PAGE, cursor }, my.signal);
      if (my !== ctl) return;
      add(r.logs || [], false);
      cursor = r.next_cursor || '';
      draw();
    } catch (e) {
      if (e.name === 'AbortError') return;
      more.replaceChildren(el('span.bad', { text: `Loading older logs failed: ${e.message} ` }), el('button.btn.btn-small', { type: 'button', text: 'Retry' }));
    }
  }

  // Live tail: records newer than the newest shown (same filters).
  async function tail() {
    if (tailBusy || document.hidden) return;
    tailBusy = true;
    const my = ctl;
    try {
      const since = lines.length ? lines[0].time_ns : String(BigInt(Date.now() - 60e3) * 1000000n);
      const r = await apiGet('logs', { ...filt(), since, limit: 500 }, my && my.signal);
      if (my !== ctl) return;
      const n = add(r.logs || [], true);
      if (n) draw(n);
    } catch {
      // The next poll tries again; the shown lines stay.
    } finally {
      tailBusy = false;
    }
  }

  // Adds records (newest first within the batch); returns how many were new and shown.
  function add(recs, atTop) {
    const fresh = [];
    for (const l of recs) {
      const k = keyOf(l);
      if (keys.has(k)) continue;
      keys.add(k);
      if (!keep(l)) { hidden++; continue; }
      fresh.push(l);
    }
    if (atTop) lines = fresh.concat(lines);
    else lines = lines.concat(fresh);
    if (lines.length > MAX_LINES) lines.length = MAX_LINES;
    return fresh.length;
  }

  function draw(newCount) {
    countLbl.textContent = `${lines.length} lines${cursor ? ' (more available)' : ''}` + (hidden ? ` · ${hidden} SDK stats records hidden` : '');
    if (!lines.length) {
      box.replaceChildren(emptyBox('No logs match', st.live
        ? 'Waiting for new records… Widen the filters if nothing arrives.'
        : 'Widen the time range, lower the level, or clear the text filter.'));
    } else {
      let h = '<table class="tbl logs-tbl loglist-tbl"><thead><tr><th class="c-time">Time</th><th class="c-lvl">Level</th><th class="c-svc">Service</th><th>Message</th><th class="c-tr">Trace</th></tr></thead><tbody>';
      lines.forEach((L, i) => {
        const lv = LEVELS.includes(L.level) ? L.level : 'info';
        const attrs = Object.entries(L.attributes || {}).slice(0, 12)
          .map(([a, v]) => `<span class="attr"><span class="k">${esc(a)}=</span>${esc(fmtValue(v))}</span>`).join('');
        const tr = L.trace_id
          ? `<a class="trlink mono" href="${esc(buildHash('/trace/' + L.trace_id, { span: L.span_id }))}" title="Open trace ${esc(L.trace_id)}">${esc(L.trace_id.slice(0, 8))}… →</a>`
          : '<span class="muted">—</span>';
        h += `<tr class="lv-row-${lv}${newCount && i < newCount ? ' fresh' : ''}"><td class="c-time mono">${esc(fmtTime(L.time_us))}</td>` +
          `<td class="c-lvl"><span class="lvl lv-${lv}">${esc(L.level)}</span></td>` +
          `<td class="c-svc"><span class="chip" style="--c:${serviceColour(L.service)}">${esc(L.service)}</span></td>` +
          `<td class="c-msg"><span class="lbody">${esc(L.body)}</span>${attrs ? `<div class="attrs">${attrs}</div>` : ''}</td>` +
          `<td class="c-tr">${tr}</td></tr>`;
      });
      box.innerHTML = h + '</tbody></table>';
    }
    more.hidden = !cursor;
    if (cursor) more.replaceChildren(el('button.btn', { type: 'button', text: 'Load older logs' }));
  }

  function schedule() {
    clearInterval(tailTimer);
    tailTimer = st.live ? setInterval(tail, TAIL_MS) : 0;
  }

  sync();
  loadServices();
  load();
  schedule();
  return {
    update(p) {
      st = readState(p);
      sync();
      schedule();
      load();
    },
    unmount() {
      if (ctl) ctl.abort();
      clearInterval(tailTimer);
    },
  };
}
