// trace.js - one trace: summary, waterfall of the request tree, detail panel,
// and the trace's logs.  State (URL params): span (selected span id),
// q (search text), only=1 (show only matching spans and their ancestors),
// collapsed (span ids, or "*" = every subtree, with exceptions in open),
// logs=0 (hide log rows inside the waterfall).
//
// The waterfall is virtualized: only the rows in view (plus a margin) are in
// the DOM, written with one innerHTML per frame, so a 5,000-span trace costs
// one pass over the spans to index them and ~60 rows of DOM at a time.
import { apiGet, errorBox, loadingBox } from './api.js';
import { setParams } from './router.js';
import { el, esc, fmtDur, fmtTime, fmtValue, serviceColour, niceTicks, copyText, cmpText } from './util.js';

const ROW_H = 26;
const OVERSCAN = 16;
const INDENT = 14;
const MAX_URL_IDS = 300; // collapsed/open ids kept in the URL
const LOG_TABLE_PAGE = 100;
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

export function mount(root, params, ctx) {
  const traceId = ctx.key;
  const ctl = new AbortController();
  let T = null; // indexed trace, see index()
  let st = readState(params);
  let rows = []; // visible rows: >= 0 span index, < 0 ~log index
  let rowOf = new Map(); // span index -> row number
  let cursor = 0; // keyboard row
  let raf = 0;
  let logLimit = LOG_TABLE_PAGE;
  let matches = null; // Uint8Array or null when no search
  let matchList = [];
  let keep = null; // with only=1: spans shown (match or ancestor of one)
  let tabRow = 0; // the drawn row that is in the tab order
  let drawn = [0, 0]; // rows [first, last) now in the DOM

  document.title = `Trace ${traceId.slice(0, 8)} · Sightline`;
  const page = el('section.page.trace-page');
  root.append(page);
  page.append(loadingBox('trace'));

  load();

  async function load() {
    page.replaceChildren(loadingBox('trace'));
    try {
      const data = await apiGet('traces/' + encodeURIComponent(traceId), null, ctl.signal);
      T = index(data);
      build();
    } catch (e) {
      if (e.name === 'AbortError') return;
      page.replaceChildren(
        el('div.page-head', {}, el('a.back', { href: '#/traces', text: '← Traces' })),
        errorBox(e, load));
    }
  }

  // ---- DOM skeleton, built once per trace ----
  let wfScroll, wfRows, wfSpacer, ruler, detail, searchIn, onlyIn, logsIn, matchLbl, logsBox, body;

  function build() {
    const s = T.summary;
    document.title = `${s.root_service || '?'}: ${s.root_name || traceId} · Sightline`;
    const svcChips = (s.services || []).map((n) => el('span.chip', { style: `--c:${serviceColour(n)}`, text: n }));
    const copyBtn = el('button.btn.btn-small', { type: 'button', text: 'Copy ID', title: 'Copy the trace id' });
    copyBtn.addEventListener('click', async () => {
      copyBtn.textContent = (await copyText(traceId)) ? 'Copied' : 'Copy failed';
      setTimeout(() => { copyBtn.textContent = 'Copy ID'; }, 1500);
    });
    const stat = (label, value, cls) => el('div.stat' + (cls ? '.' + cls : ''), {}, el('span.lbl', { text: label }), el('span.val', {}, value));
    const head = el('div.trace-head', {},
      el('div.title-row', {},
        el('a.back', { href: '#/traces', text: '← Traces' }),
        el('h1', {}, el('span.chip.chip-lg', { style: `--c:${serviceColour(s.root_service)}`, text: s.root_service || '(no root)' }),
          el('span.op', { text: s.root_name || '' }))),
      el('div.stats', {},
        stat('Duration', fmtDur(s.duration_ns)),
        stat('Spans', String(s.span_count ?? T.n)),
        stat('Errors', String(s.error_count || 0), s.error_count ? 'bad' : ''),
        s.orphan_count ? stat('Missing parents', String(s.orphan_count), 'warnc') : null,
        stat('Logs', String(T.logs.length)),
        stat('Started', fmtTime(s.start_us, true)),
        el('div.stat.stat-id', {}, el('span.lbl', { text: 'Trace ID' }),
          el('div.idrow', {}, el('span.val.mono', { text: traceId }), copyBtn))),
      el('div.svc-legend', { 'aria-label': 'Services in this trace' }, svcChips),
      s.truncated || s.dropped_spans || s.dropped_logs
        ? el('div.note.note-warn', { role: 'note' },
          `This trace is incomplete: ${s.dropped_spans || 0} spans and ${s.dropped_logs || 0} logs were left out by the server's size limits.`)
        : null);

    searchIn = el('input.search', { type: 'search', placeholder: 'Search spans: name, service, attribute, id', 'aria-label': 'Search within the trace', value: st.q });
    onlyIn = el('input', { type: 'checkbox', id: 't-only' });
    logsIn = el('input', { type: 'checkbox', id: 't-logs' });
    matchLbl = el('span.muted.matches', { 'aria-live': 'polite' });
    const btn = (text, title, fn) => el('button.btn.btn-small', { type: 'button', text, title, onclick: fn });
    const toolbar = el('div.wf-toolbar', {},
      el('div.searchbox', {}, searchIn,
        btn('↑', 'Previous match (Shift+Enter)', () => jumpMatch(-1)),
        btn('↓', 'Next match (Enter)', () => jumpMatch(1)), matchLbl),
      el('label.toggle', { for: 't-only' }, onlyIn, el('span', { text: 'Only matches' })),
      el('label.toggle', { for: 't-logs' }, logsIn, el('span', { text: 'Logs in waterfall' })),
      el('div.spacer'),
      btn('Expand all', 'Expand every subtree', () => { st.mode = 'list'; st.set = new Set(); refresh(); }),
      btn('Collapse all', 'Collapse every subtree below the root', () => { st.mode = 'all'; st.set = new Set(); refresh(); }),
      el('span.legend', {}, el('span.lg-crit'), 'critical path'));

    ruler = el('div.wf-ruler', { 'aria-hidden': 'true' });
    wfRows = el('div.wf-rows');
    wfSpacer = el('div.wf-spacer', {}, wfRows);
    wfScroll = el('div.wf-scroll', {
      role: 'tree', 'aria-label': 'Spans of the trace', tabindex: '-1',
      'data-span-count': String(T.n),
    }, ruler, wfSpacer);
    detail = el('aside.detail', { 'aria-label': 'Span details', hidden: true });
    body = el('div.trace-body', {}, el('div.card.wf', {}, wfScroll), detail);
    logsBox = el('div.card.logs');
    page.replaceChildren(head, toolbar, body,
      el('h2.section', { id: 'logs-h' }, `Logs `, el('span.muted', { text: `(${T.logs.length}, time order)` })), logsBox);

    searchIn.addEventListener('input', () => {
      st.q = searchIn.value;
      computeMatches();
      refresh();
    });
    searchIn.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        jumpMatch(e.shiftKey ? -1 : 1);
      } else if (e.key === 'Escape' && searchIn.value) {
        searchIn.value = '';
        searchIn.dispatchEvent(new Event('input'));
      }
    });
    onlyIn.addEventListener('change', () => { st.only = onlyIn.checked; refresh(); });
    logsIn.addEventListener('change', () => { st.logs = logsIn.checked; refresh(); });
    wfScroll.addEventListener('scroll', () => {
      if (!raf) raf = requestAnimationFrame(() => { raf = 0; if (!covered()) renderWindow(); });
    }, { passive: true });
    wfRows.addEventListener('click', onRowClick);
    wfScroll.addEventListener('keydown', onKey);
    detail.addEventListener('click', onDetailClick);
    logsBox.addEventListener('click', onLogsClick);
    window.addEventListener('resize', onResize);
    document.addEventListener('keydown', onDocKey);

    drawRuler();
    applyState(true);
    // For the speed test: the waterfall is in the DOM; mark the next frame.
    requestAnimationFrame(() => performance.mark('sl:trace:waterfall'));
    // The logs table can be thousands of rows below the fold: draw it after
    // the waterfall has painted, so the trace shows at once.
    logsBox.replaceChildren(loadingBox('logs'));
    requestAnimationFrame(() => setTimeout(() => { if (!ctl.signal.aborted) drawLogs(); }, 0));
  }

  // Everything the URL controls, applied to the built page.
  function applyState(scrollToSel) {
    searchIn.value = st.q;
    onlyIn.checked = st.only;
    logsIn.checked = st.logs;
    computeMatches();
    const sel = st.span ? T.byId.get(st.span) : undefined;
    if (sel !== undefined) revealSpan(sel);
    buildRows();
    renderWindow();
    showDetail(sel === undefined ? -1 : sel, null);
    if (scrollToSel && sel !== undefined && rowOf.has(sel)) {
      cursor = rowOf.get(sel);
      scrollToRow(cursor, true);
    }
  }

  // Re-derives rows after a state change and records it in the URL.  The
  // URL is replaced, not pushed: a history entry per click would make Back
  // useless, and a hashchange would re-apply (and re-scroll) the state.
  function refresh() {
    buildRows();
    renderWindow();
    writeUrl();
  }

  function writeUrl() {
    const ids = [...st.set].slice(0, MAX_URL_IDS).join(',');
    setParams({
      q: st.q,
      only: st.only ? '1' : '',
      logs: st.logs ? '' : '0',
      collapsed: st.mode === 'all' ? '*' : ids,
      open: st.mode === 'all' ? ids : '',
      span: st.span,
    }, false);
  }

  function isCollapsed(i) {
    if (T.end[i] === i + 1) return false;
    const id = T.spans[i].span_id;
    return st.mode === 'all' ? T.spans[i].depth > 0 && !st.set.has(id) : st.set.has(id);
  }

  function setCollapsed(i, c) {
    const id = T.spans[i].span_id;
    // In 'all' mode the set holds the expanded exceptions.
    if ((st.mode === 'all') !== c) st.set.add(id);
    else st.set.delete(id);
  }

  // Opens every collapsed ancestor of span i so it can be shown.
  function revealSpan(i) {
    for (let p = T.parent[i]; p >= 0; p = T.parent[p]) if (isCollapsed(p)) setCollapsed(p, false);
    if (st.only && keep && !keep[i]) st.only = false;
  }

  function computeMatches() {
    const q = st.q.trim().toLowerCase();
    matchList = [];
    keep = null;
    if (!q) {
      matches = null;
      matchLbl.textContent = '';
      return;
    }
    if (!T.text) T.text = T.spans.map(searchText);
    matches = new Uint8Array(T.n);
    for (let i = 0; i < T.n; i++) if (T.text[i].includes(q)) { matches[i] = 1; matchList.push(i); }
    keep = new Uint8Array(T.n);
    // Pre-order: walking backwards visits children before their parent.
    for (let i = T.n - 1; i >= 0; i--) {
      if (matches[i]) keep[i] = 1;
      if (keep[i] && T.parent[i] >= 0) keep[T.parent[i]] = 1;
    }
    matchLbl.textContent = `${matchList.length} of ${T.n} spans`;
  }

  function buildRows() {
    rows = [];
    rowOf = new Map();
    const only = st.only && keep;
    for (let i = 0; i < T.n;) {
      if (only && !keep[i]) { i = T.end[i]; continue; }
      rowOf.set(i, rows.length);
      rows.push(i);
      if (st.logs) {
        const ls = T.logsOf[i];
        if (ls) for (const j of ls) rows.push(~j);
      }
      i = isCollapsed(i) ? T.end[i] : i + 1;
    }
    wfSpacer.style.height = rows.length * ROW_H + 'px';
    wfScroll.setAttribute('data-rows', String(rows.length));
    if (cursor >= rows.length) cursor = Math.max(0, rows.length - 1);
  }

  // True while the rows in the DOM still cover the viewport: most scroll
  // frames then cost nothing.
  function covered() {
    const top = wfScroll.scrollTop;
    const vf = Math.floor(top / ROW_H);
    const vl = Math.min(rows.length, Math.ceil((top + wfScroll.clientHeight) / ROW_H));
    return vf >= drawn[0] && vl <= drawn[1];
  }

  function renderWindow() {
    const top = wfScroll.scrollTop;
    const h = wfScroll.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const last = Math.min(rows.length, Math.ceil((top + h) / ROW_H) + OVERSCAN);
    const hadFocus = wfRows.contains(document.activeElement);
    const sel = st.span ? T.byId.get(st.span) : -1;
    // Roving tabindex: one row in the tab order, the cursor's when drawn.
    tabRow = cursor >= first && cursor < last ? cursor : first;
    let html = '';
    for (let r = first; r < last; r++) {
      const v = rows[r];
      html += v >= 0 ? spanRow(v, r, sel) : logRow(~v, r);
    }
    wfRows.style.transform = `translateY(${first * ROW_H}px)`;
    wfRows.innerHTML = html;
    drawn = [first, last];
    if (hadFocus) focusRow(cursor, false);
  }

  function spanRow(i, r, sel) {
    const s = T.spans[i];
    const kids = T.end[i] > i + 1;
    const coll = kids && isCollapsed(i);
    const colour = T.colour[i];
    const left = T.left[i];
    const width = T.width[i];
    let cls = 'row span-row';
    if (i === sel) cls += ' sel';
    if (s.critical) cls += ' crit';
    if (s.status === 'error') cls += ' err';
    if (matches) cls += matches[i] ? ' match' : ' dim';
    let badges = '';
    if (s.status === 'error') badges += '<span class="badge b-err" title="status: error">error</span>';
    if (s.missing_parent) badges += `<span class="badge b-orphan" title="Its parent span ${esc(s.parent_id)} never arrived; shown under the root">missing parent</span>`;
    if (s.skew_ns) badges += `<span class="badge b-skew" title="Started before its parent by clock skew; shifted ${esc(fmtDur(s.skew_ns))} for display">skew ${s.skew_ns > 0 ? '+' : ''}${esc(fmtDur(s.skew_ns))}</span>`;
    if (coll) badges += `<span class="badge b-hidden">+${T.end[i] - i - 1}</span>`;
    const tw = kids
      ? `<button type="button" class="tw" tabindex="-1" aria-label="${coll ? 'Expand' : 'Collapse'}">${coll ? '▸' : '▾'}</button>`
      : '<span class="tw-sp"></span>';
    const end = left + width;
    let lbl;
    if (end < 72) lbl = `<span class="dur" style="left:calc(${end}% + 6px)">`;
    else if (left > 28) lbl = `<span class="dur dur-l" style="right:calc(${100 - left}% + 6px)">`;
    else lbl = `<span class="dur dur-in" style="left:calc(${left}% + 6px)">`;
    let marks = '';
    const ev = s.events;
    if (ev && ev.length) {
      const k = Math.min(ev.length, 20);
      for (let e = 0; e < k; e++) marks += `<span class="evmark" style="left:${pct(ev[e].time_us - T.t0)}%"></span>`;
    }
    const ls = T.logsOf[i];
    if (ls) {
      const k = Math.min(ls.length, 20);
      for (let e = 0; e < k; e++) {
        const L = T.logs[ls[e]];
        marks += `<span class="logmark lv-${L.lv}" style="left:${pct(L.time_us - T.t0)}%"></span>`;
      }
    }
    return `<div class="${cls}" role="treeitem" aria-level="${s.depth + 1}"${kids ? ` aria-expanded="${!coll}"` : ''} aria-selected="${i === sel}" data-r="${r}" data-i="${i}" tabindex="${r === tabRow ? 0 : -1}">` +
      `<div class="c-name" style="padding-left:${8 + Math.min(s.depth, 40) * INDENT}px">${tw}` +
      `<span class="sdot" style="--c:${colour}"></span><span class="svc">${esc(s.service)}</span><span class="nm">${esc(s.name)}</span>${badges}</div>` +
      `<div class="c-bar"><span class="bar" style="left:${left}%;width:${width}%;--c:${colour}"></span>${marks}${lbl}${esc(fmtDur(s.duration_ns))}</span></div></div>`;
  }

  function logRow(j, r) {
    const L = T.logs[j];
    const s = T.spans[T.byId.get(L.span_id)];
    return `<div class="row log-row" role="treeitem" aria-level="${s.depth + 2}" data-r="${r}" data-l="${j}" tabindex="${r === tabRow ? 0 : -1}">` +
      `<div class="c-log" style="padding-left:${8 + Math.min(s.depth + 1, 41) * INDENT + 18}px">` +
      `<span class="lvl lv-${L.lv}">${esc(L.level)}</span><span class="mono muted">+${esc(fmtDur((L.time_us - T.t0) * 1000))}</span>` +
      `<span class="lbody">${esc(L.body)}</span></div></div>`;
  }

  function pct(us) {
    const v = (us / T.total) * 100;
    return v < 0 ? 0 : v > 100 ? 100 : +v.toFixed(3);
  }

  function drawRuler() {
    const t = niceTicks(0, T.total * 1000, 5);
    let h = '<div class="c-name">Service · operation</div><div class="c-bar">';
    for (const v of t.ticks) {
      const p = (v / 1000 / T.total) * 100;
      if (p > 100.01) break;
      h += `<span class="tick${p > 92 ? ' tick-r' : ''}" style="left:${p}%">${v ? esc(fmtDur(v)) : '0'}</span>`;
    }
    ruler.innerHTML = h + '</div>';
  }

  // ---- interaction ----
  function onRowClick(e) {
    const row = e.target.closest('.row');
    if (!row) return;
    cursor = +row.dataset.r;
    if (row.dataset.l !== undefined) {
      const L = T.logs[+row.dataset.l];
      select(T.byId.get(L.span_id), +row.dataset.l);
      return;
    }
    const i = +row.dataset.i;
    if (e.target.closest('.tw')) {
      setCollapsed(i, !isCollapsed(i));
      refresh();
      focusRow(cursor, false);
      return;
    }
    select(i, null);
  }

  function select(i, logIdx) {
    st.span = i >= 0 ? T.spans[i].span_id : '';
    if (i >= 0 && !rowOf.has(i)) {
      revealSpan(i);
      buildRows();
    }
    if (i >= 0) cursor = rowOf.get(i);
    renderWindow();
    showDetail(i, logIdx);
    writeUrl();
  }

  function onKey(e) {
    if (e.target.closest('input, button:not(.tw), a')) return;
    if (!rows.length) return;
    let r = cursor;
    const v = rows[r];
    switch (e.key) {
      case 'ArrowDown': case 'j': r = Math.min(rows.length - 1, r + 1); break;
      case 'ArrowUp': case 'k': r = Math.max(0, r - 1); break;
      case 'Home': r = 0; break;
      case 'End': r = rows.length - 1; break;
      case 'PageDown': r = Math.min(rows.length - 1, r + Math.floor(wfScroll.clientHeight / ROW_H)); break;
      case 'PageUp': r = Math.max(0, r - Math.floor(wfScroll.clientHeight / ROW_H)); break;
      case 'ArrowRight':
        if (v >= 0 && T.end[v] > v + 1) {
          if (isCollapsed(v)) { setCollapsed(v, false); refresh(); } else r = Math.min(rows.length - 1, r + 1);
        }
        break;
      case 'ArrowLeft':
        if (v >= 0 && T.end[v] > v + 1 && !isCollapsed(v)) { setCollapsed(v, true); refresh(); } else {
          const i = v >= 0 ? v : T.byId.get(T.logs[~v].span_id);
          const p = v >= 0 ? T.parent[i] : i;
          if (p >= 0 && rowOf.has(p)) r = rowOf.get(p);
        }
        break;
      case 'Enter': case ' ':
        if (v >= 0) select(v, null); else select(T.byId.get(T.logs[~v].span_id), ~v);
        e.preventDefault();
        return;
      default: return;
    }
    e.preventDefault();
    cursor = r;
    scrollToRow(r, false);
    focusRow(r, true);
  }

  function onDocKey(e) {
    if (e.key === 'Escape' && st.span && !e.target.closest('input')) {
      select(-1, null);
      focusRow(cursor, true);
    } else if (e.key === '/' && !e.target.closest('input, textarea')) {
      e.preventDefault();
      searchIn.focus();
    }
  }

  function focusRow(r, render) {
    if (render) renderWindow();
    for (const n of wfRows.querySelectorAll('[tabindex="0"]')) n.tabIndex = -1;
    const n = wfRows.querySelector(`[data-r="${r}"]`);
    if (n) {
      n.tabIndex = 0;
      n.focus({ preventScroll: true });
    }
  }

  function scrollToRow(r, center) {
    const y = r * ROW_H + ruler.offsetHeight;
    const h = wfScroll.clientHeight;
    if (center) wfScroll.scrollTop = Math.max(0, y - h / 2);
    else if (y < wfScroll.scrollTop + ruler.offsetHeight) wfScroll.scrollTop = y - ruler.offsetHeight;
    else if (y + ROW_H > wfScroll.scrollTop + h) wfScroll.scrollTop = y + ROW_H - h;
    renderWindow();
  }

  function jumpMatch(dir) {
    if (!matchList.length) return;
    const cur = st.span ? T.byId.get(st.span) : -1;
    let k;
    if (dir > 0) k = matchList.findIndex((i) => i > cur);
    else for (k = matchList.length - 1; k >= 0 && matchList[k] >= cur; k--);
    if (k < 0 || k >= matchList.length) k = dir > 0 ? 0 : matchList.length - 1;
    const i = matchList[k];
    select(i, null);
    scrollToRow(rowOf.get(i), true);
    matchLbl.textContent = `${k + 1} / ${matchList.length} of ${T.n} spans`;
  }

  function onResize() {
    renderWindow();
  }

  // ---- detail panel ----
  function showDetail(i, logIdx) {
    if (i < 0 || i === undefined) {
      detail.hidden = true;
      body.classList.remove('has-detail');
      return;
    }
    const s = T.spans[i];
    const kv = (k, v) => [el('dt', { text: k }), el('dd', {}, v)];
    const idLink = (id, label) => (T.byId.has(id)
      ? el('button.linkbtn.mono', { type: 'button', 'data-span': id, text: label || id })
      : el('span.mono', { text: label || id || '—' }));
    const closeBtn = el('button.btn.btn-small.close', { type: 'button', 'aria-label': 'Close details', text: '✕' });
    closeBtn.addEventListener('click', () => select(-1, null));
    const marks = [];
    if (s.critical) marks.push(el('span.badge.b-crit', { text: 'on the critical path' }));
    if (s.missing_parent) marks.push(el('span.badge.b-orphan', { text: 'missing parent' }));
    if (s.skew_ns) marks.push(el('span.badge.b-skew', { text: `clock skew adjusted ${fmtDur(s.skew_ns)}` }));
    const attrs = Object.entries(s.attributes || {}).sort(([a], [b]) => cmpText(a, b));
    const status = el('span', {}, el('span.pill.' + (s.status === 'error' ? 'pill-err' : s.status === 'ok' ? 'pill-ok' : 'pill-unset'), { text: s.status || 'unset' }),
      s.status_message ? el('span.stmsg', { text: ' ' + s.status_message }) : null);
    const startOff = (s.start_us - T.t0) * 1000;
    const logs = (T.logsOf[i] || []).map((j) => T.logs[j]);
    // replaceChildren() would print a null as the text "null".
    detail.replaceChildren(...[
      el('div.d-head', {},
        el('div', {}, el('span.chip', { style: `--c:${T.colour[i]}`, text: s.service }),
          el('h2', { text: s.name })),
        closeBtn),
      marks.length ? el('div.d-marks', {}, marks) : null,
      el('dl.kv', {},
        kv('Duration', fmtDur(s.duration_ns)),
        kv('Start', `+${fmtDur(startOff)} · ${fmtTime(s.start_us, true)}`),
        s.skew_ns && s.raw_start_us !== undefined ? kv('Reported start', fmtTime(s.raw_start_us, true)) : null,
        kv('Kind', s.kind || 'unspecified'),
        kv('Status', status),
        kv('Span ID', el('span.mono', { text: s.span_id })),
        kv('Parent ID', s.parent_id ? idLink(s.parent_id) : el('span.muted', { text: 'none (root)' })),
        kv('Trace ID', el('span.mono', { text: traceId }))),
      section('Attributes', attrs.length,
        attrs.length ? el('table.tbl.tbl-kv', {}, el('tbody', {}, attrs.map(([k, v]) =>
          el('tr', {}, el('th', { text: k, scope: 'row' }), el('td', { text: fmtValue(v), class: typeof v === 'string' ? '' : 'mono' }))))) : null),
      section('Events', (s.events || []).length,
        (s.events || []).length ? el('ul.evlist', {}, s.events.map((ev) => el('li', {},
          el('div', {}, el('span.mono.muted', { text: `+${fmtDur((ev.time_us - s.start_us) * 1000)} ` }), el('strong', { text: ev.name })),
          attrList(ev.attributes)))) : null),
      section('Links', (s.links || []).length,
        (s.links || []).length ? el('ul.evlist', {}, s.links.map((l) => el('li', {},
          el('a.mono', { href: `#/trace/${encodeURIComponent(l.trace_id)}?span=${encodeURIComponent(l.span_id)}`, text: `${l.trace_id.slice(0, 16)}… / ${l.span_id}` }),
          attrList(l.attributes)))) : null),
      section('Logs', logs.length,
        logs.length ? el('ul.loglist', {}, logs.map((L) => el('li', { class: logIdx !== null && T.logs[logIdx] === L ? 'hl' : '' },
          el('span.lvl.lv-' + L.lv, { text: L.level }),
          el('span.mono.muted', { text: ` +${fmtDur((L.time_us - T.t0) * 1000)} ` }),
          el('span', { text: L.body }), attrList(L.attributes)))) : null),
    ].filter(Boolean));
    detail.hidden = false;
    body.classList.add('has-detail');
    const hl = detail.querySelector('.loglist .hl');
    if (hl) hl.scrollIntoView({ block: 'nearest' });
  }

  function section(title, n, content) {
    return el('section.d-sec', {}, el('h3', {}, title, el('span.muted', { text: ` ${n}` })),
      content || el('p.muted.none', { text: `No ${title.toLowerCase()}.` }));
  }

  function attrList(a) {
    const e = Object.entries(a || {});
    if (!e.length) return null;
    return el('div.attrs', {}, e.map(([k, v]) => el('span.attr', {}, el('span.k', { text: k + '=' }), el('span', { text: fmtValue(v) }))));
  }

  function onDetailClick(e) {
    const b = e.target.closest('[data-span]');
    if (!b) return;
    const i = T.byId.get(b.dataset.span);
    if (i === undefined) return;
    select(i, null);
    scrollToRow(rowOf.get(i), true);
  }

  // ---- logs table (all logs of the trace, time order) ----
  function drawLogs() {
    if (!T.logs.length) {
      logsBox.innerHTML = '<div class="state state-empty"><div class="state-title">No logs in this trace</div>' +
        '<div class="state-msg">Logs appear here when the services log while a span of this trace is current.</div></div>';
      return;
    }
    const k = Math.min(T.logs.length, logLimit);
    let h = '<table class="tbl logs-tbl"><thead><tr><th class="c-off">Offset</th><th class="c-time">Time</th><th class="c-lvl">Level</th>' +
      '<th class="c-svc">Service</th><th class="c-span">Span</th><th>Message</th></tr></thead><tbody>';
    for (let j = 0; j < k; j++) {
      const L = T.logs[j];
      const si = T.byId.get(L.span_id);
      const attrs = Object.entries(L.attributes || {}).map(([a, v]) => `<span class="attr"><span class="k">${esc(a)}=</span>${esc(fmtValue(v))}</span>`).join('');
      h += `<tr class="lv-row-${L.lv}"><td class="c-off mono">+${esc(fmtDur((L.time_us - T.t0) * 1000))}</td>` +
        `<td class="c-time mono">${esc(fmtTime(L.time_us))}</td><td class="c-lvl"><span class="lvl lv-${L.lv}">${esc(L.level)}</span></td>` +
        `<td class="c-svc"><span class="chip" style="--c:${serviceColour(L.service)}">${esc(L.service)}</span></td>` +
        `<td class="c-span">${si !== undefined ? `<button type="button" class="linkbtn" data-span="${esc(L.span_id)}" data-log="${j}">${esc(T.spans[si].name)}</button>` : `<span class="muted">${L.span_id ? esc(L.span_id) : '—'}</span>`}</td>` +
        `<td class="c-msg"><span class="lbody">${esc(L.body)}</span>${attrs ? `<div class="attrs">${attrs}</div>` : ''}</td></tr>`;
    }
    h += '</tbody></table>';
    if (k < T.logs.length) h += `<div class="more"><button type="button" class="btn" data-more>Show all ${T.logs.length} logs</button></div>`;
    logsBox.innerHTML = h;
  }

  function onLogsClick(e) {
    if (e.target.closest('[data-more]')) {
      logLimit = Infinity;
      drawLogs();
      return;
    }
    const b = e.target.closest('[data-span]');
    if (!b) return;
    const i = T.byId.get(b.dataset.span);
    select(i, +b.dataset.log);
    scrollToRow(rowOf.get(i), true);
    wfScroll.scrollIntoView({ block: 'nearest' });
  }

  return {
    update(p) {
      st = readState(p);
      if (T) applyState(true);
    },
    unmount() {
      ctl.abort();
      if (raf) cancelAnimationFrame(raf);
      window.removeEventListener('resize', onResize);
      document.removeEventListener('keydown', onDocKey);
    },
  };
}

function readState(p) {
  const c = p.get('collapsed') || '';
  const all = c === '*';
  const ids = (all ? p.get('open') || '' : c).split(',').filter((x) => /^[0-9a-f]{16}$/i.test(x));
  return {
    span: p.get('span') || '',
    q: p.get('q') || '',
    only: p.get('only') === '1',
    logs: p.get('logs') !== '0',
    mode: all ? 'all' : 'list',
    set: new Set(ids.map((x) => x.toLowerCase())),
  };
}

// One pass over the spans (pre-order with depth) to find each span's parent
// row and the end of its subtree, plus bar geometry and log ownership.
function index(data) {
  const spans = Array.isArray(data.spans) ? data.spans : [];
  const logs = Array.isArray(data.logs) ? data.logs : [];
  const summary = data.summary || {};
  const n = spans.length;
  let t0 = Number(summary.start_us);
  if (!Number.isFinite(t0)) t0 = n ? Math.min(...spans.map((s) => s.start_us)) : 0;
  let total = Number(summary.duration_ns) / 1000;
  if (!(total > 0)) {
    total = 1;
    for (const s of spans) total = Math.max(total, s.start_us - t0 + s.duration_ns / 1000);
  }
  const parent = new Int32Array(n);
  const end = new Int32Array(n);
  const left = new Float64Array(n);
  const width = new Float64Array(n);
  const colour = new Array(n);
  const byId = new Map();
  const stack = [];
  for (let i = 0; i < n; i++) {
    const s = spans[i];
    s.depth = Number.isInteger(s.depth) && s.depth >= 0 ? s.depth : 0;
    while (stack.length && spans[stack[stack.length - 1]].depth >= s.depth) end[stack.pop()] = i;
    parent[i] = stack.length ? stack[stack.length - 1] : -1;
    stack.push(i);
    if (!byId.has(s.span_id)) byId.set(s.span_id, i);
    const l = ((s.start_us - t0) / total) * 100;
    left[i] = Math.min(100, Math.max(0, +l.toFixed(3)));
    width[i] = Math.max(0.15, Math.min(100 - left[i], +((s.duration_ns / 1000 / total) * 100).toFixed(3)));
    colour[i] = serviceColour(s.service);
  }
  while (stack.length) end[stack.pop()] = n;
  const logsOf = new Array(n);
  for (let j = 0; j < logs.length; j++) {
    const L = logs[j];
    const lv = LEVELS.indexOf(L.level);
    L.lv = lv < 0 ? 'info' : L.level;
    const i = L.span_id ? byId.get(L.span_id) : undefined;
    if (i !== undefined) (logsOf[i] || (logsOf[i] = [])).push(j);
  }
  return { summary, spans, logs, n, t0, total, parent, end, left, width, colour, byId, logsOf, text: null };
}

function searchText(s) {
  let t = `${s.name}\n${s.service}\n${s.span_id}\n${s.kind}\n${s.status}\n${s.status_message || ''}`;
  for (const [k, v] of Object.entries(s.attributes || {})) t += `\n${k}=${fmtValue(v)}`;
  for (const e of s.events || []) t += `\n${e.name}`;
  return t.toLowerCase();
}
