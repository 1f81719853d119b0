// router.js - reading and writing the view state kept in the URL hash.

export function parseHash() {
  const h = location.hash.replace(/^#/, '');
  const i = h.indexOf('?');
  let path = i < 0 ? h : h.slice(0, i);
  try {
    path = decodeURIComponent(path);
  } catch {
    // A malformed escape: keep it raw, the router shows "not found".
  }
  return { path, params: new URLSearchParams(i < 0 ? '' : h.slice(i + 1)) };
}

// Builds '#/path?k=v' from a path and a params object/URLSearchParams,
// leaving out empty values.
export function buildHash(path, params) {
  const qs = new URLSearchParams();
  const entries = params instanceof URLSearchParams ? params.entries() : Object.entries(params || {});
  for (const [k, v] of entries) if (v !== undefined && v !== null && v !== '' && v !== false) qs.set(k, String(v));
  const s = qs.toString();
  return '#' + path + (s ? '?' + s : '');
}

// Merges `changes` into the current view's params.  push=true adds a
// history entry (and the hashchange re-renders); otherwise the URL is
// replaced silently, for state the page has already drawn.
export function setParams(changes, push) {
  const { path, params } = parseHash();
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === null || v === '' || v === false) params.delete(k);
    else params.set(k, String(v));
  }
  const h = buildHash(path || '/traces', params);
  if (h === location.hash) return;
  if (push) location.hash = h;
  else history.replaceState(history.state, '', h);
}
