// boot.js - the first script of the page.  index.html loads it with
// `async` and it imports nothing, so it runs as soon as it arrives: before
// the stylesheet, the shared modules and the page module are in.  It starts
// what the page in the URL will need first, so that the network works while
// the code is still loading:
//   - a modulepreload of the page's module (app.js would otherwise ask for
//     it only after its own imports ran: one more round trip), and
//   - for the Services page, its three API reads (the SDK counters are
//     left to the page, which asks for them after drawing its table).
// apiGet() (api.js) takes a prefetched answer instead of asking again.
// The route table lives here so that app.js and this file cannot disagree.

// A page: the pattern of the path after '#', its module (under js/), the
// modules it imports that index.html does not preload, and the header link
// it belongs to.
export const ROUTES = [
  { name: 'traces', re: /^\/?(?:traces)?$/, mod: 'traces.js', nav: 'traces' },
  { name: 'trace', re: /^\/trace\/([^/]+)$/, mod: 'trace.js', nav: 'traces' },
  { name: 'services', re: /^\/services$/, mod: 'services.js', nav: 'services' },
  { name: 'service', re: /^\/service\/(.+)$/, mod: 'service.js', deps: ['chart.js'], nav: 'services' },
  { name: 'compare', re: /^\/compare$/, mod: 'compare.js', nav: 'traces' },
  { name: 'map', re: /^\/map$/, mod: 'map.js', nav: 'map' },
  { name: 'logs', re: /^\/logs$/, mod: 'logs.js', nav: 'logs' },
  { name: 'alerts', re: /^\/alerts$/, mod: 'alerts.js', nav: 'alerts' },
];

// The URL of an API read: path relative to /api/v1/, params in their
// object order, empty ones left out (the server's defaults apply).  apiGet()
// builds its URLs here too, so a prefetched URL is the one the page asks for.
export function apiUrl(path, params) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {}))
    if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  const s = qs.toString();
  return '/api/v1/' + path + (s ? '?' + s : '');
}

// The Services page's first reads for the URL's params.  Must match what
// services.js load() asks for (range rules: timerange.js readRange() and
// rangeQuery()); when they drift apart the prefetch is only wasted, never
// wrong, and the browser test counts the requests to notice.
const RANGES = ['15m', '1h', '3h', '6h', '24h', '7d'];
function servicesReads(p) {
  const r = p.get('range') || '1h';
  const rq = r === 'custom' ? { since: p.get('since') || '', until: p.get('until') || '' }
    : { since: RANGES.includes(r) ? r : '1h' };
  return [apiUrl('red', { ...rq, by: 'service' }), apiUrl('services', rq), apiUrl('red', { ...rq, by: 'service', step: '0' })];
}

// url -> { res: Promise<Response>, tok, at }; each is taken at most once.
const pending = new Map();
// A prefetched answer older than this is stale: the page asks again.
const MAX_AGE_MS = 5000;

// Hands over the prefetched response for url when there is one that was
// sent with the token `tok` and is still fresh, else null.  The caller owns
// the Response (and must read its body); the entry is gone either way.
export function takePrefetch(url, tok) {
  const e = pending.get(url);
  if (!e) return null;
  pending.delete(url);
  if (e.tok !== tok || performance.now() - e.at > MAX_AGE_MS) return null;
  return e.res;
}

function token() {
  try { return sessionStorage.getItem('sightline.apiToken') || ''; } catch { return ''; }
}

function boot() {
  const h = location.hash.replace(/^#/, '');
  const i = h.indexOf('?');
  let path = i < 0 ? h : h.slice(0, i);
  try { path = decodeURIComponent(path); } catch { return; }
  const route = ROUTES.find((r) => r.re.test(path));
  if (!route) return;
  for (const mod of [route.mod, ...(route.deps || [])]) {
    const link = document.createElement('link');
    link.rel = 'modulepreload';
    link.href = new URL(mod, import.meta.url).href;
    document.head.append(link);
  }
  if (route.name !== 'services') return;
  const tok = token();
  const headers = { Accept: 'application/json' };
  if (tok) headers.Authorization = 'Bearer ' + tok;
  for (const url of servicesReads(new URLSearchParams(i < 0 ? '' : h.slice(i + 1)))) {
    const res = fetch(url, { headers });
    res.catch(() => {}); // a failure is seen (and reported) by the page's own request
    pending.set(url, { res, tok, at: performance.now() });
  }
}

boot();
