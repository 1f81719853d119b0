// traces.js - the trace search page (landing page): filters, a scatter plot
// of duration against time, and the result list.  State (URL params):
// service, operation, attr (key=value), min_duration/max_duration (250ms,
// 1.5s, ...), error=1 (errors only), order=slowest (the API's order),
// limit, sort (time|duration: the list's order), the time range (range,
// since, until, refresh; timerange.js) and cmp (trace ids picked for
// comparison).
import { apiGet, errorBox, loadingBox, emptyBox } from './api.js';
import { setParams, buildHash } from './router.js';
import { el, esc, fmtDur, fmtTime, fmtAgo, serviceColour, niceTicks, timeTicks, fmtTick } from './util.js';
import { readRange, rangeQuery, windowMs, rangePicker, autoRefresh } from './timerange.js';

const LIMITS = [20, 50, 100, 200, 500, 1000];
const DUR_RE = /^\s*(\d+(\.\d+)?\s*(ns|us|µs|ms|s|m|h)?)?\s*$/;

function readState(p) {
  const lim = parseInt(p.get('limit') || '100', 10);
  return {
    ...readRange(p),
    service: p.get('service') || '',
    operation: p.get('operation') || '',
    attr: p.get('attr') || '',
    min: p.get('min_duration') || '',
    max: p.get('max_duration') || '',
    error: p.get('error') === '1',
    order: p.get('order') === 'slowest' ? 'slowest' : 'newest',
    limit: LIMITS.includes(lim) ? lim : 100,
    sort: p.get('sort') === 'duration' ? 'duration' : 'time',
    cmp: (p.get('cmp') || '').split(',').filter((x) => /^[0-9a-f]{32}$/.test(x)).slice(0, 2),
  };
}

// True when the search filters spans (the API answers per matching span).
const filtered = (st) => !!(st.operation || st.attr || st.min || st.max || st.error || st.order === 'slowest');

export function mount(root, params) {
  let st = readState(params);
  let ctl = null; // AbortController of the request in flight
  let data = null; // { traces, fromMs, toMs, at }
  let resizeObs = null;
  let opsFor = null; // service whose operations fill the datalist

  document.title = 'Traces · Sightline';

  // ---- filter bar (built once, synced from state on every update) ----
  const svcSel = el('select', { id: 'f-service', 'aria-label': 'Service' }, el('option', { value: '', text: 'All services' }));
  const opList = el('datalist', { id: 'f-op-list' });
  const opIn = el('input', { type: 'text', id: 'f-op', list: 'f-op-list', placeholder: 'any', 'aria-label': 'Operation', autocomplete: 'off' });
  const attrIn = el('input', { type: 'text', id: 'f-attr', placeholder: 'http.route=/cart', 'aria-label': 'Attribute key=value', autocomplete: 'off' });
  const minIn = el('input.dur-in', { type: 'text', id: 'f-min', placeholder: '100ms', 'aria-label': 'Minimum duration', autocomplete: 'off' });
  const maxIn = el('input.dur-in', { type: 'text', id: 'f-max', placeholder: '5s', 'aria-label': 'Maximum duration', autocomplete: 'off' });
  const errIn = el('input', { type: 'checkbox', id: 'f-err' });
  const orderSel = el('select', { id: 'f-order', 'aria-label': 'Order' },
    el('option', { value: 'newest', text: 'Newest first' }), el('option', { value: 'slowest', text: 'Slowest first' }));
  const limitSel = el('select', { 'aria-label': 'Limit', id: 'f-limit' },
    LIMITS.map((n) => el('option', { value: n, text: `${n} traces` })));
  const picker = rangePicker('f');
  const formErr = el('span.form-err', { role: 'alert' });
  const form = el('form.filters.filters-search', { 'aria-label': 'Trace filters' },
    el('label.field', {}, el('span.lbl', { text: 'Service' }), svcSel),
    el('label.field', {}, el('span.lbl', { text: 'Operation' }), opIn, opList),
    el('label.field', {}, el('span.lbl', { text: 'Attribute' }), attrIn),
    el('div.field', { role: 'group', 'aria-label': 'Duration' }, el('span.lbl', { text: 'Duration' }),
      el('div.durs', {}, minIn, el('span.muted', { text: '–' }), maxIn)),
    el('label.field', {}, el('span.lbl', { text: 'Order' }), orderSel),
    el('label.field', {}, el('span.lbl', { text: 'Limit' }), limitSel),
    el('label.toggle.f-err', { for: 'f-err' }, errIn, el('span', { text: 'Errors only' })),
    el('button.btn.btn-primary', { type: 'submit', text: 'Search' }),
    formErr);
  const rangeRow = el('div.filters', {}, picker.node);

  const chartBox = el('div.card.chart', { 'aria-label': 'Duration of each trace against its start time' });
  const listBox = el('div.card.list');
  const countLbl = el('span.muted');
  const cmpBar = el('div.cmpbar', { hidden: true });
  root.append(el('section.page', {},
    el('div.page-head', {}, el('h1', { text: 'Traces' }), countLbl, el('div.spacer'), cmpBar),
    form, rangeRow, chartBox, listBox));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    for (const [inp, what] of [[minIn, 'minimum'], [maxIn, 'maximum']]) {
      if (!DUR_RE.test(inp.value)) {
        formErr.textContent = `The ${what} duration “${inp.value}” is not a duration: use 250ms, 1.5s, 2m or 100us.`;
        inp.focus();
        return;
      }
    }
    if (attrIn.value.trim() && !attrIn.value.includes('=')) {
      formErr.textContent = 'The attribute filter is key=value, e.g. http.route=/cart.';
      attrIn.focus();
      return;
    }
    formErr.textContent = '';
    setParams({
      operation: opIn.value.trim(), attr: attrIn.value.trim(),
      min_duration: minIn.value.replace(/\s+/g, ''), max_duration: maxIn.value.replace(/\s+/g, ''),
    }, true);
  });
  svcSel.addEventListener('change', () => setParams({ service: svcSel.value, operation: '' }, true));
  limitSel.addEventListener('change', () => setParams({ limit: limitSel.value }, true));
  orderSel.addEventListener('change', () => setParams({ order: orderSel.value === 'slowest' ? 'slowest' : '' }, true));
  errIn.addEventListener('change', () => setParams({ error: errIn.checked ? '1' : '' }, true));

  function syncForm() {
    svcSel.value = st.service;
    if (svcSel.value !== st.service) {
      // A service from the URL the list does not (yet) know: keep it selectable.
      svcSel.append(el('option', { value: st.service, text: st.service }));
      svcSel.value = st.service;
    }
    opIn.value = st.operation;
    attrIn.value = st.attr;
    minIn.value = st.min;
    maxIn.value = st.max;
    errIn.checked = st.error;
    orderSel.value = st.order;
    limitSel.value = String(st.limit);
    picker.sync(st);
    if (st.service !== opsFor) loadOps();
  }

  async function loadServices() {
    try {
      const r = await apiGet('services', { since: '7d' });
      const names = (r.services || []).map((s) => s.name).sort();
      for (const n of names)
        if (![...svcSel.options].some((o) => o.value === n)) svcSel.append(el('option', { value: n, text: n }));
      svcSel.value = st.service;
    } catch {
      svcSel.title = 'The service list could not be loaded; the filter still works from the URL.';
    }
  }

  // Operation suggestions for the chosen service.
  async function loadOps() {
    opsFor = st.service;
    opList.replaceChildren();
    if (!st.service) return;
    try {
      const r = await apiGet(`services/${encodeURIComponent(st.service)}/operations`, { since: '24h', kind: 'all' });
      if (opsFor !== r.service) return;
      opList.replaceChildren(...(r.operations || []).map((o) => el('option', { value: o.operation })));
    } catch {
      // Suggestions only; typing an operation still works.
    }
  }

  function apiQuery() {
    const q = { service: st.service, limit: st.limit, ...rangeQuery(st) };
    if (st.operation) q.operation = st.operation;
    if (st.attr) q.attr = st.attr;
    if (st.min) q.min_duration = st.min;
    if (st.max) q.max_duration = st.max;
    if (st.error) q.error = 'true';
    if (st.order === 'slowest') q.order = 'slowest';
    return q;
  }

  async function load(silent) {
    if (ctl) ctl.abort();
    ctl = new AbortController();
    const my = ctl;
    if (!silent) {
      listBox.replaceChildren(loadingBox('traces'));
      chartBox.replaceChildren();
      chartBox.classList.add('is-loading');
    }
    try {
      const r = await apiGet('traces', apiQuery(), my.signal);
      if (my !== ctl) return;
      const [fromMs, toMs] = windowMs(st);
      data = { traces: r.traces || [], fromMs, toMs, at: Date.now(), partial: r.partial };
      chartBox.classList.remove('is-loading');
      chartBox.hidden = false;
      draw();
      picker.updated(true);
    } catch (e) {
      if (e.name === 'AbortError' || my !== ctl) return;
      chartBox.classList.remove('is-loading');
      if (silent && data) {
        picker.updated(false, `Refresh failed: ${e.message}`);
        return;
      }
      data = null;
      chartBox.replaceChildren();
      chartBox.hidden = true;
      countLbl.textContent = '';
      listBox.replaceChildren(errorBox(e, () => load(false)));
    }
  }

  function draw() {
    const t = data.traces;
    countLbl.textContent = t.length === 1 ? '1 trace' : `${t.length} traces`;
    if (t.length >= st.limit) countLbl.textContent += ` (limit reached: the ${st.order === 'slowest' ? 'slowest' : 'newest'} ${st.limit})`;
    if (data.partial) countLbl.textContent += ' · partial: narrow the range or add filters';
    drawChart();
    drawCmp();
    if (!t.length) {
      const where = st.service ? ` for service “${st.service}”` : '';
      listBox.replaceChildren(emptyBox(`No traces${where}${filtered(st) ? ' match these filters' : ''} in this time range`,
        'Widen the time range, loosen the filters, or check that your services send to this collector.'));
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
    const tdur = (x) => x.trace_duration_ns ?? x.duration_ns;
    if (st.sort === 'duration') t.sort((a, b) => tdur(b) - tdur(a));
    let maxDur = 1;
    for (const x of t) if (tdur(x) > maxDur) maxDur = tdur(x);
    const now = Date.now();
    const cmp = new Set(st.cmp);
    const sortBtn = (key, label) =>
      `<button type="button" class="th-sort" data-sort="${key}" aria-pressed="${st.sort === key}">${label}${st.sort === key ? ' <span aria-hidden="true">▾</span>' : ''}</button>`;
    let h = '<table class="tbl traces-tbl"><thead><tr>' +
      '<th class="c-cmp"><span class="sr">Compare</span></th>' +
      `<th class="c-time">${sortBtn('time', 'Start')}</th><th>Root span</th>` +
      `<th class="c-dur">${sortBtn('duration', 'Duration')}</th><th class="c-spans num">Spans</th><th class="c-svcs">Services</th>` +
      '<th class="c-status">Errors</th><th class="c-id">Trace ID</th>' +
      '</tr></thead><tbody>';
    for (const x of t) {
      const d = tdur(x);
      const pct = Math.max(0.5, (d / maxDur) * 100).toFixed(2);
      const href = `#/trace/${esc(x.trace_id)}${x.span_id && !x.is_root ? `?span=${esc(x.span_id)}` : ''}`;
      const rs = x.root_service ?? x.service;
      const rn = x.root_name ?? x.name;
      const ec = x.error_count ?? (x.error ? 1 : 0);
      const svcs = x.services || [rs];
      const svcDots = svcs.slice(0, 8).map((n) => `<span class="sdot" style="--c:${serviceColour(n)}" title="${esc(n)}"></span>`).join('') +
        `<span class="muted svc-n">${svcs.length}</span>`;
      const match = x.span_id && !x.is_root
        ? `<span class="matched" title="The matching span">↳ <span class="svc-l" style="--c:${serviceColour(x.service)}">${esc(x.service)}</span> ${esc(x.name)} <span class="mono">${esc(fmtDur(x.duration_ns))}</span>${x.error ? ' <span class="badge b-err">error</span>' : ''}</span>`
        : '';
      h += `<tr data-id="${esc(x.trace_id)}"${cmp.has(x.trace_id) ? ' class="picked"' : ''}>` +
        `<td class="c-cmp"><input type="checkbox" class="cmp-in" data-cmp="${esc(x.trace_id)}" aria-label="Pick for comparison"${cmp.has(x.trace_id) ? ' checked' : ''}></td>` +
        `<td class="c-time"><span class="mono">${esc(fmtTime(x.trace_start_us ?? x.start_us))}</span><span class="sub">${esc(fmtAgo(x.trace_start_us ?? x.start_us, now))}</span></td>` +
        `<td class="c-root"><a href="${href}" class="rowlink"><span class="chip" style="--c:${serviceColour(rs)}">${esc(rs)}</span>` +
        `<span class="op">${esc(rn)}</span></a>${match}</td>` +
        `<td class="c-dur"><div class="durbar"><span style="width:${pct}%;--c:${ec ? 'var(--err)' : serviceColour(rs)}"></span></div><span class="mono">${esc(fmtDur(d))}</span></td>` +
        `<td class="c-spans num">${x.span_count ?? '<span class="muted">—</span>'}</td>` +
        `<td class="c-svcs">${svcDots}</td>` +
        `<td class="c-status">${ec ? `<span class="pill pill-err">${ec} error${ec > 1 ? 's' : ''}</span>` : '<span class="pill pill-ok">OK</span>'}</td>` +
        `<td class="c-id mono">${esc(x.trace_id.slice(0, 16))}…</td></tr>`;
    }
    h += '</tbody></table>';
    listBox.innerHTML = h;
  }

  // The compare bar: pick two traces in the list, then open them side by side.
  function drawCmp() {
    if (!st.cmp.length) { cmpBar.hidden = true; return; }
    cmpBar.hidden = false;
    const go = st.cmp.length === 2
      ? el('a.btn.btn-primary.btn-small', { href: buildHash('/compare', { a: st.cmp[0], b: st.cmp[1] }), text: 'Compare 2 traces' })
      : el('span.muted', { text: 'Pick one more trace to compare' });
    cmpBar.replaceChildren(go, el('button.btn.btn-small', { type: 'button', text: 'Clear', onclick: () => { st.cmp = []; setParams({ cmp: '' }, false); draw(); } }));
  }

  listBox.addEventListener('change', (e) => {
    const c = e.target.closest('.cmp-in');
    if (!c) return;
    let ids = st.cmp.filter((x) => x !== c.dataset.cmp);
    if (c.checked) ids = [...ids, c.dataset.cmp].slice(-2);
    st.cmp = ids;
    setParams({ cmp: ids.join(',') }, false);
    for (const i of listBox.querySelectorAll('.cmp-in')) {
      i.checked = ids.includes(i.dataset.cmp);
      i.closest('tr').classList.toggle('picked', i.checked);
    }
    drawCmp();
  });
  listBox.addEventListener('click', (e) => {
    const sb = e.target.closest('.th-sort');
    if (sb) {
      setParams({ sort: sb.dataset.sort === 'duration' ? 'duration' : '' }, true);
      return;
    }
    // The whole row opens the trace; the link inside keeps keyboard access.
    const tr = e.target.closest('tr[data-id]');
    if (tr && !e.target.closest('a, input, .c-cmp')) location.hash = tr.querySelector('a.rowlink').getAttribute('href');
  });
  const hover = (on) => (e) => {
    const tr = e.target.closest('tr[data-id]');
    if (!tr) return;
    const dot = chartBox.querySelector(`a[data-id="${CSS.escape(tr.dataset.id)}"] circle`);
    if (dot) dot.classList.toggle('hot', on);
  };
  listBox.addEventListener('mouseover', hover(true));
  listBox.addEventListener('mouseout', hover(false));

  resizeObs = new ResizeObserver(() => {
    if (data) drawChart();
  });
  resizeObs.observe(chartBox);

  const refresher = autoRefresh(() => load(true));
  syncForm();
  loadServices();
  load(false);
  refresher(st.refresh);

  return {
    update(p) {
      const prev = st;
      st = readState(p);
      syncForm();
      refresher(st.refresh);
      const same = (a, b) => JSON.stringify({ ...a, sort: 0, cmp: 0, refresh: 0 }) === JSON.stringify({ ...b, sort: 0, cmp: 0, refresh: 0 });
      if (data && same(prev, st)) {
        drawList();
        drawCmp();
        return;
      }
      load(false);
    },
    unmount() {
      if (ctl) ctl.abort();
      refresher(false);
      resizeObs.disconnect();
    },
  };
}
