// services.js - every service with its request rate, error rate, p50/p99
// latency and a throughput sparkline (GET /api/v1/red), its span/log
// counts (GET /api/v1/services) and the SDK's drop counters
// (GET /api/v1/sdk).  State: q (filter text), sort (name|rate|errors|p50|
// p99|drops|spans), dir (asc|desc), and the time range (timerange.js).
import { apiGet, errorBox, loadingBox, emptyBox } from './api.js';
import { setParams, buildHash } from './router.js';
import { el, esc, serviceColour, fmtDur, fmtRate, fmtPct, fmtNum, sparkline, cmpText } from './util.js';
import { readRange, rangeQuery, rangePicker, autoRefresh } from './timerange.js';

const SORTS = ['name', 'rate', 'errors', 'p50', 'p99', 'drops', 'spans'];
const SHOW_LOADING_MS = 150;

function readState(p) {
  const sort = SORTS.includes(p.get('sort')) ? p.get('sort') : 'name';
  const dir = p.get('dir') === 'asc' || p.get('dir') === 'desc' ? p.get('dir') : sort === 'name' ? 'asc' : 'desc';
  return { ...readRange(p), q: p.get('q') || '', sort, dir };
}

export function mount(root, params) {
  let st = readState(params);
  let rows = null;
  let ctl = null;
  let sparksIn = false;

  document.title = 'Services · Sightline';
  const filterIn = el('input.search', { type: 'search', placeholder: 'Filter services', 'aria-label': 'Filter services', value: st.q });
  const picker = rangePicker('s');
  const countLbl = el('span.muted');
  const sdkNote = el('div');
  const box = el('div.card.list');
  const section = el('section.page', {},
    el('div.page-head', {}, el('h1', { text: 'Services' }), countLbl),
    el('div.filters', {}, el('label.field', {}, el('span.lbl', { text: 'Filter' }), filterIn), picker.node),
    sdkNote, box);
  // The page goes into the document with its first table (or error), or
  // after SHOW_LOADING_MS with "Loading…" when the answers take longer.
  // The answers boot.js asked for early usually land within that time,
  // and a frame showing the page without its table would cost a style and
  // layout pass (15-25 ms here) right before the one that shows it.
  let gone = false; // unmounted: a late timer must not add the page back
  let showTimer = 0;
  const show = () => {
    clearTimeout(showTimer);
    if (!gone && !section.isConnected) root.append(section);
  };

  filterIn.addEventListener('input', () => {
    st.q = filterIn.value;
    setParams({ q: st.q }, false);
    draw();
  });
  box.addEventListener('click', (e) => {
    const b = e.target.closest('.th-sort');
    if (b) {
      const k = b.dataset.sort;
      const dir = st.sort === k ? (st.dir === 'asc' ? 'desc' : 'asc') : k === 'name' ? 'asc' : 'desc';
      setParams({ sort: k === 'name' ? '' : k, dir: dir === (k === 'name' ? 'asc' : 'desc') ? '' : dir }, true);
      return;
    }
    const tr = e.target.closest('tr[data-svc]');
    if (tr && !e.target.closest('a')) location.hash = tr.querySelector('a.rowlink').getAttribute('href');
  });

  async function load(silent) {
    if (ctl) ctl.abort();
    ctl = new AbortController();
    const my = ctl;
    if (!silent) {
      box.replaceChildren(loadingBox('services'));
      if (!section.isConnected && !showTimer) showTimer = setTimeout(show, SHOW_LOADING_MS);
    }
    const rq = rangeQuery(st);
    // The table is drawn as soon as the names and whole-range figures are
    // in; sparklines and SDK counters fill in when their answers arrive.
    const spark = apiGet('red', { ...rq, by: 'service' }, my.signal);
    spark.catch(() => {});
    // The SDK counters come from a log scan, the slowest answer of the page:
    // ask for them only once the table is drawn, so they never delay it.
    let sdk = null;
    let early = null;
    const sparks = (red) => {
      for (const s of red.series || []) { const r = rows.find((x) => x.name === s.service); if (r) r.spark = s.rate; }
      sparksIn = true;
    };
    try {
      const [sv, tot] = await Promise.all([
        apiGet('services', rq, my.signal),
        apiGet('red', { ...rq, by: 'service', step: '0' }, my.signal),
      ]);
      if (my !== ctl) return;
      const bySvc = new Map();
      const get = (n) => {
        if (!bySvc.has(n)) bySvc.set(n, { name: n, spans: 0, errSpans: 0, logs: 0, spark: null, tot: null, sdk: null });
        return bySvc.get(n);
      };
      for (const s of sv.services || []) Object.assign(get(s.name), { spans: s.spans || 0, errSpans: s.errors || 0, logs: s.logs || 0 });
      for (const s of tot.series || []) get(s.service).tot = { rate: s.total.rate, er: s.total.error_rate, count: s.total.count, p50: s.p50_ns[0], p99: s.p99_ns[0] };
      const prev = rows;
      rows = [...bySvc.values()];
      // Keep the last sparklines and counters on a refresh until new ones arrive.
      if (prev) for (const r of rows) { const o = prev.find((x) => x.name === r.name); if (o) { r.spark = o.spark; r.sdk = o.sdk; } }
      // Sparklines that are already in (asked for together with the
      // figures, e.g. by boot.js) go into this first drawing: a second
      // full redraw right after it would only delay the first frame.
      // (race() with a resolved promise: spark's value if it has one now.)
      early = await Promise.race([spark, Promise.resolve(null)]).catch(() => null);
      if (my !== ctl) return;
      if (early) sparks(early);
      picker.updated(true);
      draw();
      sdk = apiGet('sdk', rq, my.signal);
      sdk.catch(() => {});
    } catch (e) {
      if (e.name === 'AbortError' || my !== ctl) return;
      if (silent && rows) { picker.updated(false, `Refresh failed: ${e.message}`); return; }
      countLbl.textContent = '';
      box.replaceChildren(errorBox(e, () => load(false)));
      show();
      return;
    }
    if (!early) spark.then((red) => {
      if (my !== ctl) return;
      sparks(red);
      draw();
    }, (e) => { if (e.name !== 'AbortError') sparksIn = true; });
    sdk.then((r) => {
      if (my !== ctl) return;
      for (const r2 of rows) r2.sdk = null;
      for (const s of r.services || []) { const x = rows.find((y) => y.name === s.service); if (x) x.sdk = s; }
      sdkNote.replaceChildren();
      draw();
    }, (e) => {
      if (e.name === 'AbortError' || my !== ctl) return;
      sdkNote.replaceChildren(el('div.note.note-warn', { role: 'note', text: `SDK counters unavailable: ${e.message}` }));
    });
  }

  const drops = (r) => (r.sdk ? (r.sdk.counters['spans.dropped'] || 0) + (r.sdk.counters['logs.dropped'] || 0) : -1);
  const key = {
    name: (r) => r.name,
    rate: (r) => (r.tot ? r.tot.rate : -1),
    errors: (r) => (r.tot ? r.tot.er : -1),
    p50: (r) => (r.tot && r.tot.p50 !== null ? r.tot.p50 : -1),
    p99: (r) => (r.tot && r.tot.p99 !== null ? r.tot.p99 : -1),
    drops,
    spans: (r) => r.spans,
  };

  function draw() {
    if (!rows) return;
    show();
    const needle = st.q.trim().toLowerCase();
    const shown = needle ? rows.filter((r) => r.name.toLowerCase().includes(needle)) : rows.slice();
    const k = key[st.sort];
    const sgn = st.dir === 'asc' ? 1 : -1;
    shown.sort((a, b) => {
      const x = k(a), y = k(b);
      const c = typeof x === 'string' ? cmpText(x, y) : x - y;
      return c ? c * sgn : cmpText(a.name, b.name);
    });
    countLbl.textContent = needle ? `${shown.length} of ${rows.length} services` : `${rows.length} services`;
    if (!rows.length) {
      box.replaceChildren(emptyBox('No services in this time range',
        'Services appear here once an instrumented program sends spans or logs to this collector. Widen the time range if they sent earlier.'));
      return;
    }
    if (!shown.length) {
      box.replaceChildren(emptyBox(`No service matches “${st.q}”`, 'Clear the filter to see every service.'));
      return;
    }
    const th = (k2, label, cls) => `<th class="${cls || ''}" aria-sort="${st.sort === k2 ? (st.dir === 'asc' ? 'ascending' : 'descending') : 'none'}">` +
      `<button type="button" class="th-sort" data-sort="${k2}" aria-pressed="${st.sort === k2}">${label}${st.sort === k2 ? ` <span aria-hidden="true">${st.dir === 'asc' ? '▴' : '▾'}</span>` : ''}</button></th>`;
    const rng = { range: st.range, since: st.since, until: st.until };
    let h = '<table class="tbl svc-tbl"><thead><tr>' + th('name', 'Service') + th('rate', 'Requests', 'num') +
      th('errors', 'Error rate', 'num') + th('p50', 'p50', 'num') + th('p99', 'p99', 'num') +
      '<th class="c-spark">Throughput</th>' + th('spans', 'Spans', 'num c-spans') + th('drops', 'SDK drops', 'num') +
      '<th class="c-act">Traces</th></tr></thead><tbody>';
    for (const r of shown) {
      const t = r.tot;
      const c = serviceColour(r.name);
      const svcHref = buildHash('/service/' + encodeURIComponent(r.name), rng);
      const trHref = buildHash('/traces', { service: r.name, ...rng });
      const errHref = buildHash('/traces', { service: r.name, error: '1', ...rng });
      const d = drops(r);
      let sdkCell = '<span class="muted" title="No sightline.sdk.stats records from this service in the range">—</span>';
      if (r.sdk) {
        const cn = r.sdk.counters;
        const tip = `${r.sdk.instance_count} SDK instance(s); spans created ${fmtNum(cn['spans.created'])}, exported ${fmtNum(cn['spans.exported'])}, dropped ${fmtNum(cn['spans.dropped'])}; logs created ${fmtNum(cn['logs.created'])}, dropped ${fmtNum(cn['logs.dropped'])}`;
        sdkCell = `<span class="${d > 0 ? 'bad' : 'okc'}" title="${esc(tip)}">${fmtNum(cn['spans.dropped'] || 0)} spans · ${fmtNum(cn['logs.dropped'] || 0)} logs</span>`;
      }
      h += `<tr data-svc="${esc(r.name)}">` +
        `<td><a class="rowlink" href="${esc(svcHref)}"><span class="swatch" style="--c:${c}"></span><span class="svc-name">${esc(r.name)}</span></a></td>` +
        `<td class="num">${t ? esc(fmtRate(t.rate)) : '<span class="muted">—</span>'}</td>` +
        `<td class="num">${t ? `<a class="${t.er > 0.05 ? 'bad' : t.er > 0 ? 'warnc' : 'okc'}" href="${esc(errHref)}">${esc(fmtPct(t.er))}</a>` : '<span class="muted">—</span>'}</td>` +
        `<td class="num mono">${t && t.p50 !== null ? esc(fmtDur(t.p50)) : '<span class="muted">—</span>'}</td>` +
        `<td class="num mono">${t && t.p99 !== null ? esc(fmtDur(t.p99)) : '<span class="muted">—</span>'}</td>` +
        `<td class="c-spark">${r.spark ? sparkline(r.spark, c) : `<span class="muted">${sparksIn || !t ? 'no requests' : '…'}</span>`}</td>` +
        `<td class="num c-spans">${esc(fmtNum(r.spans))}</td>` +
        `<td class="num sdk">${sdkCell}</td>` +
        `<td class="c-act"><a href="${esc(trHref)}">Traces</a></td></tr>`;
    }
    box.innerHTML = h + '</tbody></table>';
    // For the speed test: when the table first became usable (next frame).
    if (!performance.getEntriesByName('sl:services:interactive').length)
      requestAnimationFrame(() => performance.mark('sl:services:interactive'));
  }

  const refresher = autoRefresh(() => load(true));
  picker.sync(st);
  refresher(st.refresh);
  load(false);
  return {
    update(p) {
      const prev = st;
      st = readState(p);
      if (filterIn.value !== st.q) filterIn.value = st.q;
      picker.sync(st);
      refresher(st.refresh);
      if (prev.range !== st.range || prev.since !== st.since || prev.until !== st.until) load(false);
      else draw();
    },
    unmount() {
      gone = true;
      clearTimeout(showTimer);
      if (ctl) ctl.abort();
      refresher(false);
    },
  };
}
