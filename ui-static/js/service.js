// service.js - one service over time: latency percentiles (p50/p95/p99),
// error rate and throughput charts from GET /api/v1/red, and its
// operations table from GET /api/v1/services/{name}/operations.  Clicking
// a point of a chart opens the trace search for that service (and
// operation) in that time bucket.  State: op (one operation, or all), the
// time range (timerange.js).
import { apiGet, errorBox, loadingBox, emptyBox } from './api.js';
import { setParams, buildHash } from './router.js';
import { el, esc, serviceColour, fmtDur, fmtRate, fmtPct, fmtNum } from './util.js';
import { readRange, rangeQuery, rangePicker, autoRefresh } from './timerange.js';
import { lineChart } from './chart.js';

const C = { p50: '#6aa8ff', p95: '#e5c76b', p99: '#f78fb3', err: '#f0565c', rate: '#4fd1c5' };

function readState(p) {
  return { ...readRange(p), op: p.get('op') || '' };
}

export function mount(root, params, ctx) {
  const name = ctx.key;
  let st = readState(params);
  let ctl = null;
  let red = null;
  let charts = [];
  let loaded = false;

  document.title = `${name} · Services · Sightline`;
  const picker = rangePicker('sv');
  const opSel = el('select', { id: 'sv-op', 'aria-label': 'Operation' }, el('option', { value: '', text: 'All operations' }));
  const tiles = el('div.tiles');
  const latBox = el('div.chartbox');
  const errBox = el('div.chartbox');
  const rateBox = el('div.chartbox');
  const chartsWrap = el('div.charts', {},
    el('div.card.chart-card', {}, el('h2.ct', { text: 'Latency' }), latBox),
    el('div.card.chart-card', {}, el('h2.ct', { text: 'Error rate' }), errBox),
    el('div.card.chart-card', {}, el('h2.ct', { text: 'Throughput' }), rateBox));
  const opsBox = el('div.card.list');
  const tracesLink = el('a.btn.btn-link', { text: 'Traces' });
  root.append(el('section.page', {},
    el('div.page-head', {}, el('a.back', { href: '#/services', text: '← Services' }),
      el('h1', {}, el('span.chip.chip-lg', { style: `--c:${serviceColour(name)}`, text: name })), el('div.spacer'), tracesLink),
    el('div.filters', {}, el('label.field', {}, el('span.lbl', { text: 'Operation' }), opSel), picker.node),
    tiles, chartsWrap,
    el('h2.section', { text: 'Operations' }), opsBox));

  opSel.addEventListener('change', () => setParams({ op: opSel.value }, true));
  opsBox.addEventListener('click', (e) => {
    const b = e.target.closest('[data-op]');
    if (b) setParams({ op: b.dataset.op }, true);
  });

  const rng = () => ({ range: st.range, since: st.since, until: st.until });
  // The traces behind a bucket: a custom range over exactly that bucket.
  function openBucket(i, extra) {
    const from = red.t_us[i] / 1000;
    const to = from + red.step_ns / 1e6;
    location.hash = buildHash('/traces', {
      service: name, operation: st.op, range: 'custom',
      since: new Date(from).toISOString(), until: new Date(to).toISOString(), ...extra,
    });
  }

  async function load(silent) {
    if (ctl) ctl.abort();
    ctl = new AbortController();
    const my = ctl;
    const rq = rangeQuery(st);
    const rp = { ...rq, service: name };
    if (st.op) rp.operation = st.op;
    if (!silent) {
      opsBox.replaceChildren(loadingBox('operations'));
      if (!loaded) tiles.replaceChildren(loadingBox('metrics'));
    }
    try {
      const [r, tot, ops] = await Promise.all([
        apiGet('red', rp, my.signal),
        apiGet('red', { ...rp, step: '0' }, my.signal),
        apiGet(`services/${encodeURIComponent(name)}/operations`, rq, my.signal),
      ]);
      if (my !== ctl) return;
      red = r;
      loaded = true;
      drawOps(ops.operations || []);
      drawTiles(tot.series && tot.series[0]);
      drawCharts();
      picker.updated(true);
    } catch (e) {
      if (e.name === 'AbortError' || my !== ctl) return;
      if (silent && red) { picker.updated(false, `Refresh failed: ${e.message}`); return; }
      tiles.replaceChildren(errorBox(e, () => load(false)));
      chartsWrap.hidden = true;
      opsBox.replaceChildren();
    }
  }

  function drawTiles(s) {
    const tile = (label, val, cls) => el('div.tile' + (cls ? '.' + cls : ''), {}, el('span.lbl', { text: label }), el('span.val', { text: val }));
    if (!s) {
      tiles.replaceChildren(tile('Requests', '0'), tile('Rate', '—'), tile('Error rate', '—'), tile('p50', '—'), tile('p95', '—'), tile('p99', '—'));
      return;
    }
    const t = s.total;
    tiles.replaceChildren(
      tile('Requests', fmtNum(t.count)), tile('Rate', fmtRate(t.rate)),
      tile('Error rate', fmtPct(t.error_rate), t.error_rate > 0.05 ? 'bad' : ''),
      tile('p50', s.p50_ns[0] !== null ? fmtDur(s.p50_ns[0]) : '—'),
      tile('p95', s.p95_ns[0] !== null ? fmtDur(s.p95_ns[0]) : '—'),
      tile('p99', s.p99_ns[0] !== null ? fmtDur(s.p99_ns[0]) : '—'));
  }

  function drawCharts() {
    for (const c of charts) c.destroy();
    chartsWrap.hidden = false;
    const s = red.series && red.series[0];
    const t = (red.t_us || []).map((u) => u / 1000);
    const stepMs = red.step_ns / 1e6;
    const nul = t.map(() => null);
    const zero = t.map(() => 0);
    const what = st.op ? `${name} ${st.op}` : name;
    charts = [
      lineChart(latBox, {
        t, stepMs, yFmt: fmtDur, label: `Latency percentiles of ${what} over time`, legend: true,
        series: [{ name: 'p99', colour: C.p99, values: s ? s.p99_ns : nul }, { name: 'p95', colour: C.p95, values: s ? s.p95_ns : nul },
          { name: 'p50', colour: C.p50, values: s ? s.p50_ns : nul }],
        emptyMax: 1e6, onPick: (i) => openBucket(i, { order: 'slowest' }),
      }),
      lineChart(errBox, {
        t, stepMs, yFmt: fmtPct, label: `Error rate of ${what} over time`, emptyMax: 0.01,
        series: [{ name: 'error rate', colour: C.err, values: s ? s.error_rate.map((v, i) => (s.count[i] ? v : null)) : nul }],
        onPick: (i) => openBucket(i, { error: '1' }),
      }),
      lineChart(rateBox, {
        t, stepMs, yFmt: fmtRate, label: `Requests per second of ${what} over time`,
        series: [{ name: 'requests', colour: C.rate, values: s ? s.rate : zero }],
        onPick: (i) => openBucket(i, {}),
      }),
    ];
    tracesLink.href = buildHash('/traces', { service: name, operation: st.op, ...rng() });
  }

  function drawOps(ops) {
    const known = new Set([...opSel.options].map((o) => o.value));
    for (const o of ops) if (!known.has(o.operation)) opSel.append(el('option', { value: o.operation, text: o.operation }));
    if (st.op && !known.has(st.op) && !ops.some((o) => o.operation === st.op)) opSel.append(el('option', { value: st.op, text: st.op }));
    opSel.value = st.op;
    if (!ops.length) {
      opsBox.replaceChildren(emptyBox('No requests in this time range',
        `“${name}” handled no server or consumer spans here. Widen the time range; its client calls are on the service map.`));
      return;
    }
    let h = '<table class="tbl ops-tbl"><thead><tr><th>Operation</th><th class="num">Requests</th><th class="num">Rate</th>' +
      '<th class="num">Error rate</th><th class="num">p50</th><th class="num">p95</th><th class="num">p99</th><th class="num">Max</th><th class="c-act">Traces</th></tr></thead><tbody>';
    for (const o of ops) {
      const tr = buildHash('/traces', { service: name, operation: o.operation, ...rng() });
      const slow = buildHash('/traces', { service: name, operation: o.operation, order: 'slowest', ...rng() });
      h += `<tr class="${o.operation === st.op ? 'sel' : ''}"><td><button type="button" class="linkbtn op" data-op="${esc(o.operation)}" title="Show this operation in the charts">${esc(o.operation)}</button></td>` +
        `<td class="num">${esc(fmtNum(o.count))}</td><td class="num">${esc(fmtRate(o.rate))}</td>` +
        `<td class="num ${o.error_rate > 0.05 ? 'bad' : o.error_rate > 0 ? 'warnc' : ''}">${esc(fmtPct(o.error_rate))}</td>` +
        `<td class="num mono">${esc(fmtDur(o.p50_ns))}</td><td class="num mono">${esc(fmtDur(o.p95_ns))}</td>` +
        `<td class="num mono">${esc(fmtDur(o.p99_ns))}</td><td class="num mono">${esc(fmtDur(o.max_ns))}</td>` +
        `<td class="c-act"><a href="${esc(tr)}">Recent</a><a href="${esc(slow)}">Slowest</a></td></tr>`;
    }
    opsBox.innerHTML = h + '</tbody></table>';
  }

  const ro = new ResizeObserver(() => { for (const c of charts) c.draw(); });
  ro.observe(chartsWrap);
  const refresher = autoRefresh(() => load(true));
  picker.sync(st);
  refresher(st.refresh);
  load(false);
  return {
    update(p) {
      st = readState(p);
      picker.sync(st);
      refresher(st.refresh);
      load(false);
    },
    unmount() {
      if (ctl) ctl.abort();
      refresher(false);
      ro.disconnect();
      for (const c of charts) c.destroy();
    },
  };
}
