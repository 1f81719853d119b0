// compare.js - two traces side by side (#/compare?a=ID&b=ID).  Spans are
// aligned by their path of (service, operation) from the root, so the same
// call in both requests lands on one row even though span ids differ;
// repeated calls (a loop, retries) are grouped with a count.  Each row shows
// where the call sat on each trace's own timeline and how much longer or
// shorter it took in B.  State: a, b (trace ids), only=diff (rows that
// differ).
import { apiGet, errorBox, loadingBox } from './api.js';
import { setParams, buildHash } from './router.js';
import { el, esc, fmtDur, fmtTime, serviceColour } from './util.js';

const ID_RE = /^[0-9a-f]{32}$/;

export function mount(root, params) {
  const ctl = new AbortController();
  let st = { a: (params.get('a') || '').toLowerCase(), b: (params.get('b') || '').toLowerCase(), diff: params.get('only') === 'diff' };
  let merged = null;
  let A = null;
  let B = null;
  document.title = 'Compare traces · Sightline';
  const page = el('section.page.compare-page');
  root.append(page);

  const form = () => {
    const ain = el('input', { type: 'text', id: 'c-a', value: st.a, placeholder: '32 hex digits', 'aria-label': 'Trace A id', class: 'mono idin' });
    const bin = el('input', { type: 'text', id: 'c-b', value: st.b, placeholder: '32 hex digits', 'aria-label': 'Trace B id', class: 'mono idin' });
    const f = el('form.filters', { 'aria-label': 'Traces to compare' },
      el('label.field', {}, el('span.lbl', { text: 'Trace A' }), ain),
      el('label.field', {}, el('span.lbl', { text: 'Trace B' }), bin),
      el('button.btn.btn-primary', { type: 'submit', text: 'Compare' }));
    f.addEventListener('submit', (e) => {
      e.preventDefault();
      location.hash = buildHash('/compare', { a: ain.value.trim().toLowerCase(), b: bin.value.trim().toLowerCase() });
    });
    return f;
  };

  async function load() {
    const head = el('div.page-head', {}, el('a.back', { href: '#/traces', text: '← Traces' }), el('h1', { text: 'Compare traces' }));
    if (!ID_RE.test(st.a) || !ID_RE.test(st.b)) {
      page.replaceChildren(head, form(), el('div.state.state-empty', {},
        el('div.state-title', { text: 'Pick two traces' }),
        el('div.state-msg', { text: 'Tick two traces in the trace list and press “Compare 2 traces”, or paste two trace ids above.' })));
      return;
    }
    page.replaceChildren(head, loadingBox('both traces'));
    try {
      [A, B] = await Promise.all([apiGet('traces/' + st.a, null, ctl.signal), apiGet('traces/' + st.b, null, ctl.signal)]);
    } catch (e) {
      if (e.name === 'AbortError') return;
      page.replaceChildren(head, form(), errorBox(e, load));
      return;
    }
    merged = align(A, B);
    const onlyIn = el('input', { type: 'checkbox', id: 'c-diff', checked: st.diff });
    onlyIn.addEventListener('change', () => { st.diff = onlyIn.checked; setParams({ only: st.diff ? 'diff' : '' }, false); drawRows(); });
    const swap = el('a.btn.btn-small', { href: buildHash('/compare', { a: st.b, b: st.a }), text: 'Swap A and B' });
    page.replaceChildren(head,
      el('div.cmp-cards', {}, card('A', A), card('B', B)),
      el('div.wf-toolbar', {},
        el('label.toggle', { for: 'c-diff' }, onlyIn, el('span', { text: 'Only calls that differ' })), el('div.spacer'),
        el('span.legend', {}, el('span.lg-slow'), 'slower in B'), el('span.legend', {}, el('span.lg-fast'), 'faster in B'), swap),
      el('div.card.list', { id: 'cmp-rows' }));
    drawRows();
  }

  function card(tag, t) {
    const s = t.summary;
    const id = t.trace_id;
    return el('div.card.cmp-card', { 'data-side': tag },
      el('div.cmp-tag', { text: tag }),
      el('div', {},
        el('a.rowlink', { href: `#/trace/${id}` },
          el('span.chip', { style: `--c:${serviceColour(s.root_service)}`, text: s.root_service || '?' }), el('span.op', { text: s.root_name || '' })),
        el('div.stats', {},
          st_('Duration', fmtDur(s.duration_ns)), st_('Spans', String(s.span_count)),
          st_('Errors', String(s.error_count || 0), s.error_count ? 'bad' : ''), st_('Services', String((s.services || []).length)),
          st_('Started', fmtTime(s.start_us, true)),
          el('div.stat', {}, el('span.lbl', { text: 'Trace ID' }), el('span.val.mono.small', { text: id })))));
  }

  function drawRows() {
    const box = page.querySelector('#cmp-rows');
    if (!box) return;
    const tA = A.summary.duration_ns / 1000 || 1;
    const tB = B.summary.duration_ns / 1000 || 1;
    let h = '<table class="tbl cmp-tbl"><thead><tr><th>Service · operation</th><th class="c-tl">A timeline</th><th class="num">A</th>' +
      '<th class="c-tl">B timeline</th><th class="num">B</th><th class="num">B − A</th></tr></thead><tbody>';
    let shown = 0;
    for (const r of merged) {
      const a = r.a;
      const b = r.b;
      const delta = a && b ? b.dur - a.dur : null;
      const rel = a && b && a.dur ? delta / a.dur : 0;
      const differs = !a || !b || a.n !== b.n || Math.abs(rel) > 0.2;
      if (st.diff && !differs) continue;
      shown++;
      const c = serviceColour(r.service);
      const bar = (x, t0, tot) => (x
        ? `<div class="tl"><span style="left:${pc(x.start - t0, tot)}%;width:${Math.max(0.4, pc(x.end - x.start, tot))}%;--c:${x.err ? 'var(--err)' : c}"></span></div>`
        : '<div class="tl tl-none"></div>');
      const cell = (x) => (x
        ? `<span class="mono">${esc(fmtDur(x.dur * 1000))}</span>${x.n > 1 ? `<span class="muted"> ×${x.n}</span>` : ''}${x.err ? ' <span class="badge b-err">error</span>' : ''}`
        : '<span class="muted">absent</span>');
      let d = '<span class="muted">—</span>';
      if (delta !== null) {
        const cls = rel > 0.2 && delta > 1000 ? 'slow' : rel < -0.2 && delta < -1000 ? 'fast' : 'same';
        d = `<span class="delta ${cls}">${delta >= 0 ? '+' : '−'}${esc(fmtDur(Math.abs(delta) * 1000))}${a.dur ? ` <small>(${rel >= 0 ? '+' : '−'}${Math.abs(rel * 100).toFixed(0)}%)</small>` : ''}</span>`;
      } else d = `<span class="badge ${a ? 'b-hidden' : 'b-orphan'}">only in ${a ? 'A' : 'B'}</span>`;
      h += `<tr class="${!a || !b ? 'one-side' : ''}" data-key="${esc(r.key)}"><td class="c-name"><div class="cn" style="padding-left:${Math.min(r.depth, 30) * 14}px">` +
        `<span class="sdot" style="--c:${c}"></span><span class="svc">${esc(r.service)}</span><span class="nm">${esc(r.name)}</span></div></td>` +
        `<td class="c-tl">${bar(a, A.t0, tA)}</td><td class="num">${cell(a)}</td>` +
        `<td class="c-tl">${bar(b, B.t0, tB)}</td><td class="num">${cell(b)}</td><td class="num">${d}</td></tr>`;
    }
    if (!shown) h += '<tr><td colspan="6" class="muted center">The two traces make the same calls with similar timings.</td></tr>';
    box.innerHTML = h + '</tbody></table>';
  }

  load();
  return {
    update(p) {
      const n = { a: (p.get('a') || '').toLowerCase(), b: (p.get('b') || '').toLowerCase(), diff: p.get('only') === 'diff' };
      const reload = n.a !== st.a || n.b !== st.b;
      st = n;
      if (reload) load(); else drawRows();
    },
    unmount() { ctl.abort(); },
  };
}

function st_(label, value, cls) {
  return el('div.stat' + (cls ? '.' + cls : ''), {}, el('span.lbl', { text: label }), el('span.val', { text: value }));
}

function pc(us, tot) {
  const v = (us / tot) * 100;
  return v < 0 ? 0 : v > 100 ? 100 : +v.toFixed(2);
}

// Groups each trace's spans by path key ("svc\u0001name\u0002svc\u0001name..."),
// then merges the two trees: A's order first, B-only paths after their
// siblings.  Returns the rows in pre-order with depth.
function align(A, B) {
  const group = (t) => {
    const spans = t.spans || [];
    t.t0 = Number(t.summary.start_us) || (spans.length ? Math.min(...spans.map((s) => s.start_us)) : 0);
    const keyOf = new Map();
    const g = new Map(); // key -> {n, dur(us), start, end, err, parent, service, name, depth}
    const order = [];
    for (const s of spans) {
      const pk = s.parent_id && keyOf.has(s.parent_id) ? keyOf.get(s.parent_id) : '';
      const key = pk + '\u0002' + s.service + '\u0001' + s.name;
      keyOf.set(s.span_id, key);
      let x = g.get(key);
      const dur = s.duration_ns / 1000;
      if (!x) {
        x = { n: 0, dur: 0, start: s.start_us, end: s.start_us + dur, err: false, parent: pk, service: s.service, name: s.name };
        g.set(key, x);
        order.push(key);
      }
      x.n++;
      x.dur += dur;
      x.start = Math.min(x.start, s.start_us);
      x.end = Math.max(x.end, s.start_us + dur);
      if (s.status === 'error') x.err = true;
    }
    return { g, order };
  };
  const ga = group(A);
  const gb = group(B);
  const kids = new Map();
  const add = (key, x) => {
    if (!kids.has(x.parent)) kids.set(x.parent, []);
    const l = kids.get(x.parent);
    if (!l.includes(key)) l.push(key);
  };
  for (const k of ga.order) add(k, ga.g.get(k));
  for (const k of gb.order) add(k, gb.g.get(k));
  const out = [];
  const seen = new Set();
  const walk = (parent, depth) => {
    for (const k of kids.get(parent) || []) {
      if (seen.has(k)) continue;
      seen.add(k);
      const x = ga.g.get(k) || gb.g.get(k);
      out.push({ key: k, depth, service: x.service, name: x.name, a: ga.g.get(k) || null, b: gb.g.get(k) || null });
      walk(k, depth + 1);
    }
  };
  walk('', 0);
  return out;
}
