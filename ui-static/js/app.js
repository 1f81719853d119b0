// app.js - hash router.  Every view state lives in the URL after '#':
//   #/traces?service=S&range=1h|custom&since=T&until=T&limit=N&sort=duration&refresh=1
//   #/trace/<trace id>?span=<span id>&q=<text>&only=1&collapsed=<id,id>&logs=0
//   #/services?q=<text>
// A page is a module with mount(root, params, ctx) -> { update?(params), unmount() }.
// When only the query changes (same page, same trace), update() is called
// instead of a full remount, so back/forward restores state without refetching.
import * as traces from './traces.js';
import * as trace from './trace.js';
import * as services from './services.js';
import { el } from './util.js';
import { parseHash } from './router.js';

const routes = [
  { name: 'traces', re: /^\/?(?:traces)?$/, page: traces, nav: 'traces' },
  { name: 'trace', re: /^\/trace\/([^/]+)$/, page: trace, nav: 'traces' },
  { name: 'services', re: /^\/services$/, page: services, nav: 'services' },
];

let current = null; // { route, key, inst }

function render() {
  const { path, params } = parseHash();
  let route = null;
  let m = null;
  for (const r of routes) {
    m = r.re.exec(path);
    if (m) { route = r; break; }
  }
  for (const a of document.querySelectorAll('[data-nav]'))
    a.setAttribute('aria-current', route && a.dataset.nav === route.nav ? 'page' : 'false');
  const root = document.getElementById('main');
  if (!route) {
    if (current) current.inst.unmount();
    current = null;
    root.replaceChildren(el('div.state.state-error', { role: 'alert' },
      el('div.state-title', { text: 'Page not found' }),
      el('div.state-msg', {}, `Nothing lives at #${path}. `, el('a', { href: '#/traces', text: 'Go to traces' }))));
    document.title = 'Not found · Sightline';
    return;
  }
  const key = m[1] || '';
  if (current && current.route === route && current.key === key && current.inst.update) {
    current.inst.update(params);
    return;
  }
  if (current) current.inst.unmount();
  root.replaceChildren();
  current = { route, key, inst: route.page.mount(root, params, { key }) };
}

window.addEventListener('hashchange', render);
render();
