// alerts.js - alert rules with their states and current values
// (GET /api/v1/alerts) and the history of transitions and deliveries
// (GET /api/v1/alerts/history).  Read-only: rules are changed through the
// API or the rules file (docs/alerts.md).  When the collector has no alerts
// API (404), the page says so plainly and shows nothing else.
// State: rule (a rule whose history is shown), state (filter: firing,
// pending, ok, resolved, disabled), refresh=1.
import { apiGet, errorBox, loadingBox, emptyBox, ApiError } from './api.js';
import { setParams, buildHash } from './router.js';
import { el, esc, fmtTime, fmtAgo, serviceColour, cmpText } from './util.js';
import { autoRefresh } from './timerange.js';

const STATES = ['firing', 'pending', 'ok', 'resolved', 'disabled'];

function readState(p) {
  const s = p.get('state') || '';
  return { rule: p.get('rule') || '', state: STATES.includes(s) ? s : '', refresh: p.get('refresh') === '1' };
}

const usOf = (ns) => (ns && ns !== '0' ? Number(BigInt(ns) / 1000n) : 0);

function fmtVal(v, unit) {
  if (v === null || v === undefined) return '—';
  const n = Number(v);
  const s = Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2).replace(/\.?0+$/, '');
  return unit === '%' ? `${s}%` : unit === 'ms' ? `${s} ms` : unit === '/s' ? `${s}/s` : s;
}

export function mount(root, params) {
  let st = readState(params);
  let ctl = null;
  let data = null;
  document.title = 'Alerts · Sightline';
  const refreshIn = el('input', { type: 'checkbox', id: 'a-refresh' });
  const updated = el('span.muted.updated', { 'aria-live': 'polite' });
  const counts = el('div.acounts');
  const rulesBox = el('div.card.list');
  const histHead = el('h2.section');
  const histBox = el('div.card.list');
  const body = el('div.alerts-page', {}, counts, rulesBox, histHead, histBox);
  const box = el('div', {}, loadingBox('alerts'));
  root.append(el('section.page', {},
    el('div.page-head', {}, el('h1', { text: 'Alerts' }), el('div.spacer'),
      el('label.toggle', { for: 'a-refresh' }, refreshIn, el('span', { text: 'Auto-refresh 10 s' })), updated),
    box));
  refreshIn.addEventListener('change', () => setParams({ refresh: refreshIn.checked ? '1' : '' }, true));
  counts.addEventListener('click', (e) => {
    const b = e.target.closest('[data-state]');
    if (b) setParams({ state: st.state === b.dataset.state ? '' : b.dataset.state }, true);
  });
  rulesBox.addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-rule]');
    if (tr && !e.target.closest('a')) setParams({ rule: st.rule === tr.dataset.rule ? '' : tr.dataset.rule }, true);
  });

  async function load(silent) {
    if (ctl) ctl.abort();
    ctl = new AbortController();
    const my = ctl;
    try {
      const [a, h] = await Promise.all([
        apiGet('alerts', null, my.signal),
        apiGet('alerts/history', { limit: 200, rule: st.rule }, my.signal),
      ]);
      if (my !== ctl) return;
      data = { a, h };
      if (box.firstChild !== body) box.replaceChildren(body);
      updated.textContent = `Updated ${fmtTime(Date.now() * 1000)}`;
      draw();
    } catch (e) {
      if (e.name === 'AbortError' || my !== ctl) return;
      if (e instanceof ApiError && e.status === 404 && e.message.includes('no API endpoint')) {
        box.replaceChildren(el('div.state.state-empty.alerts-na', { role: 'status' },
          el('div.state-title', { text: 'Alerts API not available' }),
          el('div.state-msg', { text: 'This collector does not serve /api/v1/alerts (it answered 404). Alert rules, states and history appear here once the collector has the alerts API.' })));
        return;
      }
      if (silent && data) { updated.textContent = `Refresh failed: ${e.message}`; return; }
      box.replaceChildren(errorBox(e, () => load(false)));
    }
  }

  function draw() {
    const { a, h } = data;
    const c = a.counts || {};
    counts.innerHTML = STATES.map((s) => `<button type="button" class="acount st-${s}" data-state="${s}" aria-pressed="${st.state === s}">` +
      `<span class="n">${c[s] || 0}</span><span class="lbl">${s}</span></button>`).join('') +
      (a.rules_error ? `<div class="note note-warn" role="note">Rules file problem: ${esc(a.rules_error)}</div>` : '') +
      `<span class="muted afile">Rules: <span class="mono">${esc(a.rules_file || '')}</span> · evaluated every ${esc(String(Number(a.interval_ns || 0) / 1e9))} s</span>`;
    const rules = (a.alerts || []).filter((r) => !st.state || r.state === st.state);
    const order = { firing: 0, pending: 1, resolved: 2, ok: 3, disabled: 4 };
    rules.sort((x, y) => order[x.state] - order[y.state] || cmpText(x.rule, y.rule));
    if (!(a.alerts || []).length) {
      rulesBox.replaceChildren(emptyBox('No alert rules',
        `Add rules to ${a.rules_file || 'the rules file'} or with PUT /api/v1/alerts/rules/{name} (docs/alerts.md), e.g. "p99(checkout) > 300ms over 5m".`));
    } else if (!rules.length) {
      rulesBox.replaceChildren(emptyBox(`No ${st.state} alerts`, 'Clear the state filter to see every rule.'));
    } else {
      const now = Date.now();
      let t = '<table class="tbl alerts-tbl"><thead><tr><th class="c-st">State</th><th>Rule</th><th>Condition</th>' +
        '<th class="num">Value</th><th class="num">Threshold</th><th class="c-since">Since</th><th class="c-sev">Severity</th></tr></thead><tbody>';
      for (const r of rules) {
        const since = r.state === 'firing' ? usOf(r.active_since_ns) : r.state === 'pending' ? usOf(r.pending_since_ns)
          : r.state === 'resolved' ? usOf(r.resolved_at_ns) : 0;
        const svc = r.service ? `<a class="chip" style="--c:${serviceColour(r.service)}" href="${esc(buildHash('/service/' + encodeURIComponent(r.service), { op: r.operation }))}">${esc(r.service)}</a>` : '';
        t += `<tr data-rule="${esc(r.rule)}" class="${st.rule === r.rule ? 'sel' : ''}">` +
          `<td class="c-st"><span class="apill st-${esc(r.state)}">${esc(r.state)}</span></td>` +
          `<td><div class="aname">${esc(r.rule)}</div><div class="adesc muted">${esc(r.description || '')}</div></td>` +
          `<td><div class="mono aexpr">${esc(r.expr)}</div>${svc}${r.last_error ? `<div class="bad small">${esc(r.last_error)}</div>` : ''}</td>` +
          `<td class="num mono">${esc(fmtVal(r.value, r.unit))}</td><td class="num mono">${esc(fmtVal(r.threshold, r.unit))}</td>` +
          `<td class="c-since">${since ? `${esc(fmtAgo(since, now))}` : '<span class="muted">—</span>'}</td>` +
          `<td class="c-sev"><span class="sev sev-${esc(r.severity)}">${esc(r.severity || '')}</span></td></tr>`;
      }
      rulesBox.innerHTML = t + '</tbody></table>';
    }
    histHead.textContent = st.rule ? `History of ${st.rule}` : 'History';
    const hist = h.history || [];
    if (!hist.length) {
      histBox.replaceChildren(emptyBox('No transitions yet', 'State changes and notification deliveries are listed here as they happen.'));
      return;
    }
    let t = '<table class="tbl hist-tbl"><thead><tr><th class="c-time">Time</th><th>Rule</th><th>Event</th><th class="num">Value</th><th>Detail</th></tr></thead><tbody>';
    for (const e of hist) {
      const us = usOf(e.time_ns);
      t += `<tr><td class="c-time mono">${esc(fmtTime(us))}</td><td>${esc(e.rule)}</td>` +
        `<td><span class="apill st-${esc(e.event)}">${esc(String(e.event).replace(/_/g, ' '))}</span></td>` +
        `<td class="num mono">${e.value !== undefined ? esc(fmtVal(e.value, '')) : ''}</td>` +
        `<td class="muted">${esc([e.notifier && `notifier ${e.notifier}`, e.status !== undefined && `status ${typeof e.status === 'object' ? JSON.stringify(e.status) : e.status}`, e.message].filter(Boolean).join(' · '))}</td></tr>`;
    }
    histBox.innerHTML = t + '</tbody></table>';
  }

  const refresher = autoRefresh(() => load(true));
  refreshIn.checked = st.refresh;
  refresher(st.refresh);
  load(false);
  return {
    update(p) {
      const prev = st;
      st = readState(p);
      refreshIn.checked = st.refresh;
      refresher(st.refresh);
      if (prev.rule !== st.rule) load(true); else if (data) draw();
    },
    unmount() {
      if (ctl) ctl.abort();
      refresher(false);
    },
  };
}
