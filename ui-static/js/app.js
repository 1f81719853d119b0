// app.js - hash router.  Every view state lives in the URL after '#':
//   #/traces?service=S&operation=O&attr=k=v&min_duration=D&max_duration=D&error=1
//           &order=slowest&range=1h|custom&since=T&until=T&limit=N&sort=duration&refresh=1&cmp=ID,ID
//   #/trace/<trace id>?span=<span id>&q=<text>&only=1&collapsed=<id,id>&logs=0
//   #/compare?a=<trace id>&b=<trace id>&only=diff
//   #/services?q=<text>&sort=K&dir=asc|desc&range=..
//   #/service/<name>?op=<operation>&range=..
//   #/map?range=..&focus=<service>
//   #/logs?service=S&level=L&q=<text>&sdk=1&live=1&range=..
//   #/alerts?range=..
// A page is a module with mount(root, params, ctx) -> { update?(params), unmount() }.
// When only the query changes (same page, same trace), update() is called
// instead of a full remount, so back/forward restores state without refetching.
// Pages are loaded when first visited (dynamic import), so a first load
// fetches only the shell, the shared modules and the one page it shows;
// boot.js (the route table's home) has already asked for that page's module
// and, for the Services page, its data.
import { el } from './util.js';
import { parseHash } from './router.js';
import { ROUTES } from './boot.js';

const routes = ROUTES.map((r) => ({ ...r, load: () => import('./' + r.mod) }));

let current = null; // { route, key, inst }
let seq = 0; // the newest render; an older one whose import finishes later gives way

async function render() {
  const my = ++seq;
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
  let page;
  try {
    page = await route.load();
  } catch (e) {
    if (my !== seq) return;
    root.replaceChildren(el('div.state.state-error', { role: 'alert' },
      el('div.state-title', { text: 'Page failed to load' }),
      el('div.state-msg', { text: `${e.message}. Check that the collector serves the dashboard files, then reload.` })));
    return;
  }
  if (my !== seq) return;
  if (current) current.inst.unmount();
  root.replaceChildren();
  current = { route, key, inst: page.mount(root, parseHash().params, { key }) };
}

window.addEventListener('hashchange', render);
render();
