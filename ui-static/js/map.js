// map.js - the service dependency graph (GET /api/v1/deps): services as
// boxes in layers (callers left of callees), each edge labelled with its
// call rate, error rate and the callee's p99 latency.  A table below lists
// every edge with all its figures (also the readable form on a phone).
// Click a service to open it; click an edge for the callee's traces.
// State: the time range (timerange.js), focus (a service whose edges are
// highlighted).
import { apiGet, errorBox, loadingBox, emptyBox } from './api.js';
import { setParams, buildHash } from './router.js';
import { el, esc, serviceColour, fmtDur, fmtRate, fmtPct, fmtNum, cmpText } from './util.js';
import { readRange, rangeQuery, rangePicker, autoRefresh } from './timerange.js';

const NW = 184;
const NH = 50;
const COL = 420;
const ROW = 78;

export function mount(root, params) {
  let st = { ...readRange(params), focus: params.get('focus') || '' };
  let ctl = null;
  let data = null;
  document.title = 'Service map · Sightline';
  const picker = rangePicker('m');
  const graphBox = el('div.card.mapbox');
  const tableBox = el('div.card.list');
  const countLbl = el('span.muted');
  root.append(el('section.page', {},
    el('div.page-head', {}, el('h1', { text: 'Service map' }), countLbl),
    el('div.filters', {}, picker.node), graphBox,
    el('h2.section', { text: 'Calls between services' }), tableBox));

  graphBox.addEventListener('mouseover', (e) => {
    const n = e.target.closest('[data-node]');
    if (n) hilite(n.dataset.node);
  });
  graphBox.addEventListener('mouseout', (e) => { if (e.target.closest('[data-node]')) hilite(st.focus); });
  graphBox.addEventListener('focusin', (e) => {
    const n = e.target.closest('[data-node]');
    if (n) hilite(n.dataset.node);
  });

  function hilite(svc) {
    const svg = graphBox.querySelector('svg');
    if (!svg) return;
    svg.classList.toggle('focused', !!svc);
    for (const g of svg.querySelectorAll('[data-edge]')) {
      const [a, b] = JSON.parse(g.dataset.edge);
      g.classList.toggle('on', a === svc || b === svc);
    }
    for (const g of svg.querySelectorAll('[data-node]')) g.classList.toggle('on', g.dataset.node === svc);
  }

  async function load(silent) {
    if (ctl) ctl.abort();
    ctl = new AbortController();
    const my = ctl;
    if (!silent) { graphBox.replaceChildren(loadingBox('service map')); tableBox.replaceChildren(); }
    try {
      const r = await apiGet('deps', rangeQuery(st), my.signal);
      if (my !== ctl) return;
      data = r;
      picker.updated(true);
      draw();
    } catch (e) {
      if (e.name === 'AbortError' || my !== ctl) return;
      if (silent && data) { picker.updated(false, `Refresh failed: ${e.message}`); return; }
      graphBox.replaceChildren(errorBox(e, () => load(false)));
    }
  }

  function draw() {
    const nodes = data.nodes || [];
    const edges = (data.edges || []).filter((e) => e.caller !== e.callee);
    countLbl.textContent = `${nodes.length} services · ${edges.length} connections`;
    if (!nodes.length) {
      graphBox.replaceChildren(emptyBox('No services in this time range', 'Widen the time range, or send traces to this collector.'));
      tableBox.replaceChildren();
      return;
    }
    const pos = layout(nodes.map((n) => n.service), edges);
    const rng = { range: st.range, since: st.since, until: st.until };
    let W = 0;
    let H = 0;
    for (const p of pos.values()) { W = Math.max(W, p.x + NW); H = Math.max(H, p.y + NH); }
    W += 40 + (edges.some((e) => pos.get(e.caller) && pos.get(e.callee) && pos.get(e.caller).layer === pos.get(e.callee).layer) ? 150 : 0);
    H += 60;
    const maxRate = Math.max(1e-9, ...edges.map((e) => e.rate));
    let s = `<svg class="map" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="group" aria-label="Service dependency graph">` +
      '<defs><marker id="arr" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="context-stroke"/></marker></defs>';
    let labels = '';
    for (const e of edges) {
      const a = pos.get(e.caller);
      const b = pos.get(e.callee);
      if (!a || !b) continue;
      let d;
      let lx;
      let ly;
      if (b.layer > a.layer) {
        const x1 = a.x + NW;
        const y1 = a.y + NH / 2;
        const x2 = b.x - 4;
        const y2 = b.y + NH / 2;
        const cx = (x2 - x1) / 2;
        d = `M${x1} ${y1}C${x1 + cx} ${y1} ${x2 - cx} ${y2} ${x2} ${y2}`;
        // The label sits past the middle, where edges into different
        // callees have already fanned apart.
        const t = 0.62;
        const u = 1 - t;
        lx = u * u * u * x1 + 3 * u * u * t * (x1 + cx) + 3 * u * t * t * (x2 - cx) + t * t * t * x2;
        ly = u * u * u * y1 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t * t * t * y2;
      } else if (b.layer === a.layer) {
        // A call within a column: an arc out to the right of both boxes.
        const x1 = a.x + NW;
        const y1 = a.y + NH / 2 + 6;
        const x2 = b.x + NW + 4;
        const y2 = b.y + NH / 2 - 6;
        const bulge = 40 + Math.abs(a.y - b.y) * 0.35;
        d = `M${x1} ${y1}C${x1 + bulge} ${y1} ${x2 + bulge} ${y2} ${x2} ${y2}`;
        lx = x1 + bulge * 0.75;
        ly = (y1 + y2) / 2;
      } else {
        // A call back to an earlier layer: an arc under both boxes.
        const x1 = a.x + NW / 2 + 12;
        const y1 = a.y + NH;
        const x2 = b.x + NW / 2 - 12;
        const y2 = b.y + NH + 4;
        const dip = Math.max(y1, y2) + 36 + Math.abs(a.layer - b.layer) * 8;
        d = `M${x1} ${y1}C${x1} ${dip} ${x2} ${dip} ${x2} ${y2}`;
        lx = (x1 + x2) / 2;
        ly = dip - 8;
      }
      const w = (1.2 + 4 * Math.sqrt(e.rate / maxRate)).toFixed(1);
      const cls = e.error_rate > 0.05 ? 'bad' : e.error_rate > 0.02 ? 'warn' : 'ok';
      const href = buildHash('/traces', { service: e.callee, ...rng });
      const tip = `${e.caller} → ${e.callee}\n${fmtNum(e.calls)} calls (${fmtRate(e.rate)}), ${fmtPct(e.error_rate)} errors\np50 ${fmtDur(e.p50_ns)} · p99 ${fmtDur(e.p99_ns)}`;
      const lbl = `${fmtRate(e.rate)} · ${fmtPct(e.error_rate)} err · p99 ${fmtDur(e.p99_ns)}`;
      s += `<a href="${esc(href)}" class="edge e-${cls}" data-edge="${esc(JSON.stringify([e.caller, e.callee]))}" aria-label="${esc(tip.replace(/\n/g, ', '))}">` +
        `<title>${esc(tip)}</title><path class="ehit" d="${d}"/><path class="eline" d="${d}" stroke-width="${w}" marker-end="url(#arr)"/></a>`;
      labels += `<g class="elabel e-${cls}${b.layer > a.layer ? '' : ' side'}" data-edge="${esc(JSON.stringify([e.caller, e.callee]))}" transform="translate(${lx.toFixed(1)} ${ly.toFixed(1)})">` +
        `<rect x="${-lbl.length * 2.9 - 5}" y="-8" width="${lbl.length * 5.8 + 10}" height="16" rx="4"/><text text-anchor="middle" dy="0.35em">${esc(lbl)}</text></g>`;
    }
    s += labels;
    for (const n of nodes) {
      const p = pos.get(n.service);
      const c = serviceColour(n.service);
      const er = n.spans ? n.errors / n.spans : 0;
      const href = buildHash('/service/' + encodeURIComponent(n.service), rng);
      s += `<a href="${esc(href)}" class="node" data-node="${esc(n.service)}" aria-label="${esc(`${n.service}: ${fmtNum(n.spans)} spans, ${fmtPct(er)} errors`)}">` +
        `<rect class="nbox" x="${p.x}" y="${p.y}" width="${NW}" height="${NH}" rx="8"/>` +
        `<rect x="${p.x}" y="${p.y}" width="5" height="${NH}" rx="2" fill="${c}"/>` +
        `<text class="nname" x="${p.x + 16}" y="${p.y + 22}">${esc(trim(n.service, 20))}</text>` +
        `<text class="nsub" x="${p.x + 16}" y="${p.y + 39}">${esc(fmtNum(n.spans))} spans · <tspan class="${er > 0.05 ? 'bad' : ''}">${esc(fmtPct(er))} err</tspan></text></a>`;
    }
    graphBox.innerHTML = s + '</svg>';
    // Dense graphs: edge labels only for the highlighted service (hover/focus).
    graphBox.querySelector('svg').classList.toggle('dense', edges.length > 14);
    hilite(st.focus);
    drawTable(edges, rng);
  }

  function drawTable(edges, rng) {
    if (!edges.length) {
      tableBox.replaceChildren(emptyBox('No calls between services in this range',
        'Edges appear when a span’s parent belongs to another service.'));
      return;
    }
    const sorted = edges.slice().sort((a, b) => b.calls - a.calls);
    let h = '<table class="tbl edges-tbl"><thead><tr><th>Caller</th><th>Callee</th><th class="num">Calls</th><th class="num">Rate</th>' +
      '<th class="num">Error rate</th><th class="num">p50</th><th class="num">p95</th><th class="num">p99</th><th class="c-act">Traces</th></tr></thead><tbody>';
    for (const e of sorted) {
      h += `<tr><td><span class="chip" style="--c:${serviceColour(e.caller)}">${esc(e.caller)}</span></td>` +
        `<td><span class="chip" style="--c:${serviceColour(e.callee)}">${esc(e.callee)}</span></td>` +
        `<td class="num">${esc(fmtNum(e.calls))}</td><td class="num">${esc(fmtRate(e.rate))}</td>` +
        `<td class="num ${e.error_rate > 0.05 ? 'bad' : ''}">${esc(fmtPct(e.error_rate))}</td>` +
        `<td class="num mono">${esc(fmtDur(e.p50_ns))}</td><td class="num mono">${esc(fmtDur(e.p95_ns))}</td><td class="num mono">${esc(fmtDur(e.p99_ns))}</td>` +
        `<td class="c-act"><a href="${esc(buildHash('/traces', { service: e.callee, ...rng }))}">Traces</a></td></tr>`;
    }
    tableBox.innerHTML = h + '</tbody></table>';
  }

  const refresher = autoRefresh(() => load(true));
  picker.sync(st);
  refresher(st.refresh);
  load(false);
  return {
    update(p) {
      const prev = st;
      st = { ...readRange(p), focus: p.get('focus') || '' };
      picker.sync(st);
      refresher(st.refresh);
      if (prev.range !== st.range || prev.since !== st.since || prev.until !== st.until) load(false);
      else hilite(st.focus);
    },
    unmount() {
      if (ctl) ctl.abort();
      refresher(false);
    },
  };
}

function trim(s, n) {
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

// Layered layout: entry services (nobody calls them; else the one that
// calls out the most) form layer 0, every other service sits at its
// shortest call distance from an entry (BFS), each layer is ordered by the
// mean position of its callers (a few sweeps), and layers become columns.
// Calls within a layer or back to an earlier one are drawn as arcs.
// Returns Map(service -> {x, y, layer}).
function layout(names, edges) {
  const out = new Map(names.map((n) => [n, []]));
  const flow = new Map(names.map((n) => [n, { in: 0, out: 0 }]));
  for (const e of edges) {
    for (const n of [e.caller, e.callee]) if (!out.has(n)) { out.set(n, []); flow.set(n, { in: 0, out: 0 }); names.push(n); }
    out.get(e.caller).push(e.callee);
    flow.get(e.caller).out += e.calls;
    flow.get(e.callee).in += e.calls;
  }
  const layer = new Map();
  const bfs = (roots) => {
    const q = roots.slice();
    for (const r of roots) layer.set(r, 0);
    while (q.length) {
      const n = q.shift();
      for (const m of out.get(n)) if (!layer.has(m)) { layer.set(m, layer.get(n) + 1); q.push(m); }
    }
  };
  bfs(names.filter((n) => flow.get(n).in === 0 && flow.get(n).out > 0));
  for (;;) {
    const rest = names.filter((n) => !layer.has(n));
    if (!rest.length) break;
    rest.sort((a, b) => (flow.get(b).out - flow.get(b).in) - (flow.get(a).out - flow.get(a).in) || cmpText(a, b));
    bfs([rest[0]]);
  }
  const layers = [];
  for (const n of names) (layers[layer.get(n)] || (layers[layer.get(n)] = [])).push(n);
  for (const l of layers) if (l) l.sort();
  const idx = new Map();
  const reindex = () => layers.forEach((l) => l && l.forEach((n, i) => idx.set(n, i)));
  reindex();
  const preds = new Map(names.map((n) => [n, []]));
  for (const [n, l] of out) for (const m of l) if (layer.get(m) === layer.get(n) + 1) preds.get(m).push(n);
  for (let sweep = 0; sweep < 4; sweep++) {
    for (const l of layers) {
      if (!l) continue;
      const bc = new Map(l.map((n) => {
        const p = preds.get(n);
        return [n, p.length ? p.reduce((s, q) => s + idx.get(q), 0) / p.length : idx.get(n)];
      }));
      l.sort((a, b) => bc.get(a) - bc.get(b) || cmpText(a, b));
    }
    reindex();
  }
  const maxRows = Math.max(...layers.map((l) => (l ? l.length : 0)));
  const pos = new Map();
  layers.forEach((l, li) => {
    if (!l) return;
    const off = ((maxRows - l.length) * ROW) / 2;
    l.forEach((n, i) => pos.set(n, { x: 20 + li * COL, y: 20 + off + i * ROW, layer: li }));
  });
  return pos;
}
