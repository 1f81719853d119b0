// util.js - formatting, escaping, colours and small DOM helpers shared by
// every page.  No dependencies; everything here is pure or touches only the
// element it is given.

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

// Escapes text for use inside HTML built as strings (row templates are
// strings because building thousands of rows with createElement is slower).
export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ESC[c]);
}

// el('div.cls', {attrs}, ...children): a tiny createElement helper for the
// parts of a page that are built once.  The pattern has no /i flag on
// purpose: a case-insensitive regexp makes V8 load ICU's case-folding data
// on its first use, ~20 ms on a slow machine, in the middle of first paint.
export function el(spec, attrs, ...kids) {
  const m = /^([a-zA-Z0-9]+)?((?:\.[\w-]+)*)$/.exec(spec);
  const node = document.createElement((m && m[1]) || 'div');
  if (m && m[2]) node.className = m[2].slice(1).replace(/\./g, ' ');
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
      else if (k === 'text') node.textContent = v;
      else if (k === 'html') node.innerHTML = v;
      else node.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined || k === false) continue;
    node.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return node;
}

// Durations arrive as integer nanoseconds; show three significant digits in
// the largest unit that keeps the number >= 1.
export function fmtDur(ns) {
  ns = Number(ns) || 0;
  const a = Math.abs(ns);
  const f = (v, u) => {
    const d = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
    let s = v.toFixed(d);
    if (d) s = s.replace(/0+$/, '').replace(/\.$/, '');
    return s + ' ' + u;
  };
  if (a < 1e3) return ns + ' ns';
  if (a < 1e6) return f(ns / 1e3, 'µs');
  if (a < 1e9) return f(ns / 1e6, 'ms');
  if (a < 60e9) return f(ns / 1e9, 's');
  if (a < 3600e9) return f(ns / 60e9, 'min');
  return f(ns / 3600e9, 'h');
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

// Local wall-clock time of a microsecond timestamp: "14:03:22.481", with the
// date in front when it is not today.
export function fmtTime(us, withDate) {
  const d = new Date(Number(us) / 1000);
  const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  const now = new Date();
  if (withDate || d.toDateString() !== now.toDateString())
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${t}`;
  return t;
}

// "12s ago", "3 min ago", "2 h ago", "4 d ago".
export function fmtAgo(us, nowMs = Date.now()) {
  const s = Math.max(0, (nowMs - Number(us) / 1000) / 1000);
  if (s < 1) return 'just now';
  if (s < 60) return `${Math.floor(s)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

// Value of a <input type="datetime-local"> for a Date, in local time.
export function toLocalInput(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// FNV-1a over the UTF-16 code units, with a final mix: cheap and stable
// across sessions, so a service keeps its colour everywhere and on reload.
function hash(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

// Twelve hues that read well on the dark background, none of them the red
// used for errors.  Neighbouring slots are far apart in hue.
const PALETTE = ['#6aa8ff', '#f2a65a', '#4fd1c5', '#c792ea', '#e5c76b', '#f78fb3',
  '#ff9e7a', '#7cc7ff', '#f5b041', '#a18cff', '#b5e06a', '#5fd39a'];
const colourCache = new Map();

// A stable colour per service name (the same name gets the same colour on
// every page and every machine; different names may share one).
export function serviceColour(name) {
  let c = colourCache.get(name);
  if (!c) {
    c = PALETTE[hash(name || '?') % PALETTE.length];
    colourCache.set(name, c);
  }
  return c;
}

// Attribute values are typed JSON (string, number, bool, array); show them
// without quotes for strings, JSON for everything else.
export function fmtValue(v) {
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

// Nice tick values covering [lo, hi] with about `n` steps (1-2-5 series);
// the last tick is >= hi.
export function niceTicks(lo, hi, n) {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / Math.max(1, n);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const m = raw / p;
  const step = (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  const out = [];
  // The last tick is the first at or above hi, so the axis covers the data.
  const top = Math.ceil(hi / step - 1e-9) * step;
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= top + step * 1e-9; k++) out.push(k * step);
  return { ticks: out, step };
}

// Time ticks (ms since epoch) at human steps: 100 ms ... 2 d.
const TIME_STEPS = [100, 200, 500, 1e3, 2e3, 5e3, 10e3, 15e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3, 1800e3,
  3600e3, 7200e3, 10800e3, 21600e3, 43200e3, 86400e3, 172800e3];
export function timeTicks(loMs, hiMs, n) {
  const want = (hiMs - loMs) / Math.max(1, n);
  const step = TIME_STEPS.find((s) => s >= want) || TIME_STEPS[TIME_STEPS.length - 1];
  const tz = new Date(loMs).getTimezoneOffset() * 60e3;
  const out = [];
  // Align to the local clock (a tick at 14:00, not 13:59:47).
  for (let v = Math.ceil((loMs - tz) / step) * step + tz; v <= hiMs; v += step) out.push(v);
  return { ticks: out, step };
}

export function fmtTick(ms, step) {
  const d = new Date(ms);
  if (step >= 86400e3) return `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  if (step >= 3600e3 && d.getHours() === 0 && d.getMinutes() === 0)
    return `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  if (step >= 60e3) return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (step >= 1e3) return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return `${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

// Copies text to the clipboard when the page may, silently otherwise.
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

// Requests per second: "12.4/s", "0.05/s", "1.2k/s".
export function fmtRate(r) {
  r = Number(r) || 0;
  if (r === 0) return '0/s';
  if (r >= 1000) return (r / 1000).toFixed(r >= 1e4 ? 0 : 1) + 'k/s';
  if (r >= 100) return r.toFixed(0) + '/s';
  if (r >= 10) return r.toFixed(1) + '/s';
  if (r >= 0.01) return r.toFixed(2) + '/s';
  return (r * 60).toFixed(2) + '/min';
}

// A ratio 0..1 as a percentage with sensible precision: "0%", "0.42%", "12.5%".
export function fmtPct(x) {
  x = (Number(x) || 0) * 100;
  if (x === 0) return '0%';
  if (x < 0.01) return '<0.01%';
  if (x < 10) return x.toFixed(2).replace(/\.?0+$/, '') + '%';
  return x.toFixed(1).replace(/\.0$/, '') + '%';
}

// Counts with thousands separators: "12,345" (what toLocaleString('en-US')
// writes: at most three decimals).  Done by hand because the first
// toLocaleString/Intl call of a page loads ICU's number formatting, 10-20 ms
// on the Services page's critical path.
export function fmtNum(n) {
  n = Number(n) || 0;
  const a = Math.abs(n);
  if (!isFinite(a) || a >= 1e21) return n.toLocaleString('en-US');
  const s = Number.isInteger(a) ? String(a) : String(Math.round(a * 1000) / 1000);
  const dot = s.indexOf('.');
  const int = dot < 0 ? s : s.slice(0, dot);
  return (n < 0 && s !== '0' ? '-' : '') + int.replace(/\B(?=(\d{3})+$)/g, ',') + (dot < 0 ? '' : s.slice(dot));
}

// Orders names (services, operations, attribute keys) case-insensitively,
// then by code unit so the order is total.  Used instead of localeCompare:
// its first call builds an ICU collator, ~30 ms on a slow machine, and names
// here are identifiers, not prose that needs a locale's collation.
export function cmpText(a, b) {
  const x = String(a).toLowerCase();
  const y = String(b).toLowerCase();
  if (x !== y) return x < y ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

// A tiny SVG line (sparkline) of values (nulls are gaps) as a string.
export function sparkline(values, colour, w = 120, h = 28) {
  const v = values || [];
  let max = 0;
  for (const x of v) if (x !== null && x > max) max = x;
  if (!v.length) return '';
  const step = v.length > 1 ? w / (v.length - 1) : w;
  let d = '';
  let pen = false;
  for (let i = 0; i < v.length; i++) {
    if (v[i] === null || v[i] === undefined) { pen = false; continue; }
    const x = (i * step).toFixed(1);
    const y = (h - 2 - (max > 0 ? (v[i] / max) * (h - 4) : 0)).toFixed(1);
    d += (pen ? 'L' : 'M') + x + ' ' + y;
    pen = true;
  }
  const area = d ? `<path d="${d}L${w} ${h}L0 ${h}Z" fill="${colour}" fill-opacity=".12" stroke="none"/>` : '';
  return `<svg class="spark" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" aria-hidden="true" preserveAspectRatio="none">` +
    (d.includes('L') && d.indexOf('M', 1) < 0 ? area : '') + `<path d="${d}" fill="none" stroke="${colour}" stroke-width="1.5" vector-effect="non-scaling-stroke"/></svg>`;
}
