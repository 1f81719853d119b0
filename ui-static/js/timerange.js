// timerange.js - the time-range picker and auto-refresh toggle shared by
// every list page.  State in the URL: range (15m|1h|3h|6h|24h|7d|custom),
// since/until (RFC 3339, custom only), refresh=1 (reload every 10 s while
// the tab is visible).
import { setParams } from './router.js';
import { el, toLocalInput, fmtTime } from './util.js';

export const RANGES = [['15m', 15 * 60e3], ['1h', 3600e3], ['3h', 3 * 3600e3], ['6h', 6 * 3600e3],
  ['24h', 86400e3], ['7d', 7 * 86400e3]];
export const REFRESH_MS = 10e3;

export function readRange(p, dflt = '1h') {
  const r = p.get('range') || dflt;
  return {
    range: r === 'custom' || RANGES.some(([n]) => n === r) ? r : dflt,
    since: p.get('since') || '',
    until: p.get('until') || '',
    refresh: p.get('refresh') === '1',
  };
}

// The API's since/until for a range state.
export function rangeQuery(st) {
  if (st.range === 'custom') return { since: st.since, until: st.until };
  return { since: st.range };
}

// The [from, to] window (ms since epoch) that a state asks for; a custom
// range with a side missing falls back to the last hour / now.
export function windowMs(st) {
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

// Builds the picker.  Returns { node, sync(st), setUpdated(text) }; every
// change goes to the URL (a history entry), and the page's update() reacts.
export function rangePicker(idPrefix, { refresh = true } = {}) {
  const btns = RANGES.map(([r]) => el('button.seg', { type: 'button', 'data-range': r, text: r, 'aria-pressed': 'false' }));
  const customBtn = el('button.seg', { type: 'button', 'data-range': 'custom', text: 'Custom', 'aria-pressed': 'false' });
  // The From/To inputs are built the first time a custom range is shown:
  // the first datetime-local input of a page costs 10-15 ms (Chromium sets
  // up its locale's date fields), paid on every first load otherwise.
  const customBox = el('div.custom', { hidden: true });
  let sinceIn = null;
  let untilIn = null;
  const refreshIn = el('input', { type: 'checkbox', id: idPrefix + '-refresh' });
  const updated = el('span.muted.updated', { 'aria-live': 'polite' });
  let cur = null;
  const node = el('div.rangebar', {},
    el('div.field', { role: 'group', 'aria-label': 'Time range' }, el('span.lbl', { text: 'Time range' }),
      el('div.segs', {}, btns, customBtn)),
    customBox,
    refresh ? el('label.toggle', { for: idPrefix + '-refresh' }, refreshIn, el('span', { text: 'Auto-refresh 10 s' })) : null,
    refresh ? updated : null);
  for (const b of [...btns, customBtn]) {
    b.addEventListener('click', () => {
      const r = b.dataset.range;
      if (r === 'custom') {
        const [f, t] = windowMs(cur || { range: '1h' });
        setParams({ range: 'custom', since: new Date(f).toISOString(), until: new Date(t).toISOString() }, true);
      } else {
        setParams({ range: r, since: '', until: '' }, true);
      }
    });
  }
  const applyCustom = () => {
    const s = sinceIn.value ? new Date(sinceIn.value) : null;
    const u = untilIn.value ? new Date(untilIn.value) : null;
    setParams({ range: 'custom', since: s && !isNaN(s) ? s.toISOString() : '', until: u && !isNaN(u) ? u.toISOString() : '' }, true);
  };
  const buildCustom = () => {
    if (sinceIn) return;
    sinceIn = el('input', { type: 'datetime-local', 'aria-label': 'From', step: '60' });
    untilIn = el('input', { type: 'datetime-local', 'aria-label': 'To', step: '60' });
    const apply = el('button.btn', { type: 'button', text: 'Apply', onclick: applyCustom });
    for (const i of [sinceIn, untilIn]) i.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); applyCustom(); } });
    customBox.append(el('label', {}, el('span.lbl', { text: 'From' }), sinceIn),
      el('label', {}, el('span.lbl', { text: 'To' }), untilIn), apply);
  };
  refreshIn.addEventListener('change', () => setParams({ refresh: refreshIn.checked ? '1' : '' }, true));
  return {
    node,
    sync(st) {
      cur = st;
      for (const b of [...btns, customBtn]) b.setAttribute('aria-pressed', String(b.dataset.range === st.range));
      customBox.hidden = st.range !== 'custom';
      if (st.range === 'custom') {
        buildCustom();
        const [f, t] = windowMs(st);
        sinceIn.value = toLocalInput(new Date(f));
        untilIn.value = toLocalInput(new Date(t));
      }
      refreshIn.checked = st.refresh;
    },
    updated(ok, msg) {
      updated.textContent = ok ? `Updated ${fmtTime(Date.now() * 1000)}` : msg;
      updated.classList.toggle('bad', !ok);
    },
  };
}

// Calls fn every REFRESH_MS while on and the tab is visible.  Returns a
// function to change the state; call it with false on unmount.
export function autoRefresh(fn) {
  let timer = 0;
  return (on) => {
    clearInterval(timer);
    timer = on ? setInterval(() => { if (!document.hidden) fn(); }, REFRESH_MS) : 0;
  };
}
