// traces.js - the trace search page (landing page): filters, a scatter plot
// of duration against time, and the result list.  State (URL params):
// service, range (15m|1h|6h|24h|7d|custom), since/until (RFC 3339, custom
// only), limit, sort (time|duration), refresh (1 = reload every 10 s).
import { apiGet, errorBox, loadingBox, emptyBox } from './api.js';
import { setParams } from './router.js';
import {
  el, esc, fmtDur, fmtTime, fmtAgo, serviceColour, niceTicks, timeTicks, fmtTick, toLocalInput,
} from './util.js';

const RANGES = [['15m', 15 * 60e3], ['1h', 3600e3], ['6h', 6 * 3600e3], ['24h', 86400e3], ['7d', 7 * 86400e3]];
const LIMITS = [20, 50, 100, 200, 500, 1000];
const REFRESH_MS = 10e3;

function readState(p) {
  const range = p.get('range') || '1h';
  const lim = parseInt(p.get('limit') || '100', 10);
  return {
    service: p.get('service') || '',
    range: range === 'custom' || RANGES.some(([r]) => r === range) ? range : '1h',
    since: p.get('since') || '',
    until: p.get('until') || '',
    limit: LIMITS.includes(lim) ? lim : 100,
    sort: p.get('sort') === 'duration' ? 'duration' : 'time',
    refresh: p.get('refresh') === '1',
  };
}

export function mount(root, params) {
  let st = readState(params);
  let ctl = null; // AbortController of the request in flight
  let timer = 0;
  let data = null; // { traces, fromMs, toMs, at }
  let resizeObs = null;

  document.title = 'Traces · Sightline';

  // ---- filter bar (built once, synced from state on every update) ----
  const svcSel = el('select', { id: 'f-service', 'aria-label': 'Service' }, el('option', { value: '', text: 'All services' }));
  const rangeBtns = RANGES.map(([r]) =>
    el('button.seg', { type: 'button', 'data-range': r, text: r, 'aria-pressed': 'false' }));
  const customBtn = el('button.seg', { type: 'button', 'data-range': 'custom', text: 'Custom', 'aria-pressed': 'false' });
  const sinceIn = el('input', { type: 'datetime-local', 'aria-label': 'Since', step: '60' });
  const untilIn = el('input', { type: 'datetime-local', 'aria-label': 'Until', step: '60' });
  const customBox = el('div.custom', {},
    el('label', {}, el('span.lbl', { text: 'From' }), sinceIn),
    el('label', {}, el('span.lbl', { text: 'To' }), untilIn),
    el('button.btn', { type: 'submit', text: 'Apply' }));
  const limitSel = el('select', { 'aria-label': 'Limit' },
    LIMITS.map((n) => el('option', { value: n, text: `${n} traces` })));
  const refreshIn = el('input', { type: 'checkbox', id: 'f-refresh' });
  const updated = el('span.muted.updated', { 'aria-live': 'polite' });
  const form = el('form.filters', { 'aria-label': 'Trace filters' },
    el('label.field', {}, el('span.lbl', { text: 'Service' }), svcSel),
    el('div.field', { role: 'group', 'aria-label': 'Time range' }, el('span.lbl', { text: 'Time range' }),
      el('div.segs', {}, rangeBtns, customBtn)),
    customBox,
    el('label.field', {}, el('span.lbl', { text: 'Limit' }), limitSel),
    el('div.spacer'),
    el('label.toggle', { for: 'f-refresh' }, refreshIn, el('span', { text: 'Auto-refresh 10 s' })),
    updated);

  const chartBox = el('div.card.chart', { 'aria-label': 'Duration of each trace against its start time' });
  const listBox = el('div.card.list');
  const countLbl = el('span.muted');
  root.append(el('section.page', {},
    el('div.page-head', {}, el('h1', { text: 'Traces' }), countLbl),
    form, chartBox, listBox));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const s = sinceIn.value ? new Date(sinceIn.value) : null;
    const u = untilIn.value ? new Date(untilIn.value) : null;
    setParams({
      range: 'custom',
      since: s && !isNaN(s) ? s.toISOString() : '',
      until: u && !isNaN(u) ? u.toISOString() : '',
    }, true);
  });
  svcSel.addEventListener('change', () => setParams({ service: svcSel.value }, true));
  limitSel.addEventListener('change', () => setParams({ limit: limitSel.value }, true));
  refreshIn.addEventListener('change', () => setParams({ refresh: refreshIn.checked ? '1' : '' }, true));
  for (const b of [...rangeBtns, customBtn]) {
    b.addEventListener('click', () => {
      const r = b.dataset.range;
      if (r === 'custom') {
        // Start the custom range from what is on screen now.
        const [fromMs, toMs] = window_(st);
        setParams({ range: 'custom', since: new Date(fromMs).toISOString(), until: new Date(toMs).toISOString() }, true);
      } else {
        setParams({ range: r, since: '', until: '' }, true);
      }
    });
  }

  function syncForm() {
    svcSel.value = st.service;
    if (svcSel.value !== st.service) {
      // A service from the URL the list does not (yet) know: keep it selectable.
      svcSel.append(el('option', { value: st.service, text: st.service }));
      svcSel.value = st.service;
    }
    for (const b of [...rangeBtns, customBtn]) b.setAttribute('aria-pressed', String(b.dataset.range === st.range));
    customBox.hidden = st.range !== 'custom';
    if (st.range === 'custom') {
      const [fromMs, toMs] = window_(st);
      sinceIn.value = toLocalInput(new Date(fromMs));
      untilIn.value = toLocalInput(new Date(toMs));
    }
    limitSel.value = String(st.limit);
    refreshIn.checked = st.refresh;
  }

  async function loadServices() {
    try {
      const r = await apiGet('services');
      const names = (r.services || []).map((s) => s.name).sort();
      for (const n of names)
        if (![...svcSel.options].some((o) => o.value === n)) svcSel.append(el('option', { value: n, text: n }));
      svcSel.value = st.service;
    } catch {
      svcSel.title = 'The service list could not be loaded; the filter still works from the URL.';
    }
  }

  async function load(silent) {
    if (ctl) ctl.abort();
    ctl = new AbortController();
    const my = ctl;
    const q = { service: st.service, limit: st.limit };
    if (st.range === 'custom') {
      q.since = st.since;
      q.until = st.until;
    } else {
      q.since = st.range;
    }
    if (!silent) {
      listBox.replaceChildren(loadingBox('traces'));
      chartBox.replaceChildren();
      chartBox.classList.add('is-loading');
    }
    try {
      const r = await apiGet('traces', q, my.signal);
      if (my !== ctl) return;
      const [fromMs, toMs] = window_(st);
      data = { traces: r.traces || [], fromMs, toMs, at: Date.now() };
      chartBox.classList.remove('is-loading');
      chartBox.hidden = false;
      draw();
      updated.textContent = `Updated ${fmtTime(data.at * 1000)}`;
    } catch (e) {
      if (e.name === 'AbortError' || my !== ctl) return;
      chartBox.classList.remove('is-loading');
      if (silent && data) {
        updated.textContent = `Refresh failed: ${e.message}`;
        return;
      }
      data = null;
      chartBox.replaceChildren();
      chartBox.hidden = true;
      countLbl.textContent = '';
      updated.textContent = '';
      listBox.replaceChildren(errorBox(e, () => load(false)));
    }
  }

  function draw() {
    const t = data.traces;
    countLbl.textContent = t.length === 1 ? '1 trace' : `${t.length} traces`;
    if (t.length >= st.limit) countLbl.textContent += ` (limit reached: the newest ${st.limit})`;
    drawChart();
    if (!t.length) {
      const where = st.service ? ` for service “${st.service}”` : '';
      listBox.replaceChildren(emptyBox(`No traces${where} in this time range`,
        'Widen the time range, pick another service, or check that your services send to this collector.'));
      return;
    }
    drawList();
  }

  function drawChart() {
    const t = data.traces;
    const W = Math.max(280, chartBox.clientWidth || 800);
    const H = 200;
    const m = { l: 64, r: 16, t: 12, b: 26 };
    // The x axis fits the results (padded), not the whole query window: a
    // burst of traces in a 7-day window would otherwise be one vertical line.
    let lo = data.fromMs;
    let hi = data.toMs;
    if (t.length) {
      lo = Infinity;
      hi = -Infinity;
      for (const x of t) {
        const ms = x.start_us / 1000;
        if (ms < lo) lo = ms;
        if (ms > hi) hi = ms;
      }
      const pad = Math.max(500, (hi - lo) * 0.03);
      lo -= pad;
      hi += pad;
    }
    let maxDur = 0;
    for (const x of t) if (x.duration_ns > maxDur) maxDur = x.duration_ns;
    const yt = niceTicks(0, maxDur > 0 ? maxDur * 1.05 : 1e6, 4);
    const yMax = yt.ticks[yt.ticks.length - 1] || 1;
    const X = (ms) => m.l + ((ms - lo) / (hi - lo || 1)) * (W - m.l - m.r);
    const Y = (ns) => H - m.b - (ns / yMax) * (H - m.t - m.b);
    const xt = timeTicks(lo, hi, Math.max(2, Math.floor((W - m.l) / 110)));
    let s = `<svg class="scatter" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="Trace durations over time">`;
    for (const v of yt.ticks) {
      const y = Y(v).toFixed(1);
      s += `<line class="grid" x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}"/>`;
      s += `<text class="axis" x="${m.l - 8}" y="${y}" dy="0.32em" text-anchor="end">${v ? esc(fmtDur(v)) : '0'}</text>`;
    }
    for (const v of xt.ticks) {
      const x = X(v).toFixed(1);
      s += `<line class="grid grid-x" x1="${x}" x2="${x}" y1="${m.t}" y2="${H - m.b}"/>`;
      s += `<text class="axis" x="${x}" y="${H - 8}" text-anchor="middle">${esc(fmtTick(v, xt.step))}</text>`;
    }
    // Errors drawn last so they sit on top.
    const order = t.slice().sort((a, b) => (a.error === b.error ? 0 : a.error ? 1 : -1));
    for (const x of order) {
      const cx = X(x.start_us / 1000).toFixed(1);
      const cy = Y(x.duration_ns).toFixed(1);
      const tip = `${x.service}: ${x.name}\n${fmtDur(x.duration_ns)} at ${fmtTime(x.start_us)}${x.error ? '\nerror' : ''}`;
      s += `<a href="#/trace/${esc(x.trace_id)}" tabindex="-1" data-id="${esc(x.trace_id)}">` +
        `<circle class="dot${x.error ? ' err' : ''}" cx="${cx}" cy="${cy}" r="4.5"${x.error ? '' : ` fill="${serviceColour(x.service)}"`}><title>${esc(tip)}</title></circle></a>`;
    }
    if (!t.length)
      s += `<text class="axis" x="${W / 2}" y="${H / 2}" text-anchor="middle">no traces</text>`;
    s += '</svg>';
    chartBox.innerHTML = s;
  }

  function drawList() {
    const t = data.traces.slice();
    if (st.sort === 'duration') t.sort((a, b) => b.duration_ns - a.duration_ns);
    let maxDur = 1;
    for (const x of t) if (x.duration_ns > maxDur) maxDur = x.duration_ns;
    const now = Date.now();
    const sortBtn = (key, label) =>
      `<button type="button" class="th-sort" data-sort="${key}" aria-pressed="${st.sort === key}">${label}${st.sort === key ? ' <span aria-hidden="true">▾</span>' : ''}</button>`;
    let h = '<table class="tbl traces-tbl"><thead><tr>' +
      `<th class="c-time">${sortBtn('time', 'Start')}</th><th>Root span</th>` +
      `<th class="c-dur">${sortBtn('duration', 'Duration')}</th><th class="c-status">Status</th><th class="c-id">Trace ID</th>` +
      '</tr></thead><tbody>';
    for (const x of t) {
      const pct = Math.max(0.5, (x.duration_ns / maxDur) * 100).toFixed(2);
      const href = `#/trace/${esc(x.trace_id)}`;
      h += `<tr data-id="${esc(x.trace_id)}">` +
        `<td class="c-time"><span class="mono">${esc(fmtTime(x.start_us))}</span><span class="sub">${esc(fmtAgo(x.start_us, now))}</span></td>` +
        `<td class="c-root"><a href="${href}" class="rowlink"><span class="chip" style="--c:${serviceColour(x.service)}">${esc(x.service)}</span>` +
        `<span class="op">${esc(x.name)}</span></a></td>` +
        `<td class="c-dur"><div class="durbar"><span style="width:${pct}%;--c:${x.error ? 'var(--err)' : serviceColour(x.service)}"></span></div><span class="mono">${esc(fmtDur(x.duration_ns))}</span></td>` +
        `<td class="c-status">${x.error ? '<span class="pill pill-err">Error</span>' : '<span class="pill pill-ok">OK</span>'}</td>` +
        `<td class="c-id mono">${esc(x.trace_id.slice(0, 16))}…</td></tr>`;
    }
    h += '</tbody></table>';
    listBox.innerHTML = h;
  }

  listBox.addEventListener('click', (e) => {
    const sb = e.target.closest('.th-sort');
    if (sb) {
      setParams({ sort: sb.dataset.sort === 'duration' ? 'duration' : '' }, true);
      return;
    }
    // The whole row opens the trace; the link inside keeps keyboard access.
    const tr = e.target.closest('tr[data-id]');
    if (tr && !e.target.closest('a')) location.hash = `#/trace/${tr.dataset.id}`;
  });
  const hover = (on) => (e) => {
    const tr = e.target.closest('tr[data-id]');
    if (!tr) return;
    const dot = chartBox.querySelector(`a[data-id="${CSS.escape(tr.dataset.id)}"] circle`);
    if (dot) dot.classList.toggle('hot', on);
  };
  listBox.addEventListener('mouseover', hover(true));
  listBox.addEventListener('mouseout', hover(false));

  function schedule() {
    clearInterval(timer);
    timer = 0;
    if (st.refresh)
      timer = setInterval(() => {
        if (!document.hidden) load(true);
      }, REFRESH_MS);
  }

  resizeObs = new ResizeObserver(() => {
    if (data) drawChart();
  });
  resizeObs.observe(chartBox);

  syncForm();
  loadServices();
  load(false);
  schedule();

  return {
    update(p) {
      const prev = st;
      st = readState(p);
      syncForm();
      schedule();
      if (prev.sort !== st.sort && data && JSON.stringify({ ...prev, sort: 0 }) === JSON.stringify({ ...st, sort: 0 })) {
        drawList();
        return;
      }
      load(false);
    },
    unmount() {
      if (ctl) ctl.abort();
      clearInterval(timer);
      resizeObs.disconnect();
    },
  };
}

// The [from, to] window (ms since epoch) that a state asks for; a custom
// range with a side missing falls back to the last hour / now.
function window_(st) {
  const now = Date.now();
  if (st.range === 'custom') {
    const u = Date.parse(st.until);
    const to = isNaN(u) ? now : u;
    const s = Date.parse(st.since);
    return [isNaN(s) ? to - 3600e3 : s, to];
  }
  const r = RANGES.find(([n]) => n === st.range);
  return [now - (r ? r[1] : 3600e3), now];
}
