// api.js - the collector's JSON API (/api/v1/) and how its failures are
// turned into one readable error type.
import { el } from './util.js';
import { apiUrl, takePrefetch } from './boot.js';

export class ApiError extends Error {
  // status: HTTP status (0 when the collector could not be reached);
  // code: the API's machine code ("not_found", "bad_time", ...).
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// ---- API token ------------------------------------------------------------
// When the collector is started with --api-token-read/--api-token-admin, the
// API answers 401 until a token is sent.  The token is asked for once, kept
// in sessionStorage (gone when the tab closes, never in the URL) and sent as
// "Authorization: Bearer" with every request.
const TOKEN_KEY = 'sightline.apiToken';
let prompting = null; // the open prompt's promise, shared by every waiting request
let memToken = ''; // the token when sessionStorage is disabled

export function apiToken() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}

export function signOut() {
  try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* storage disabled */ }
  location.reload();
}

// Shows "Sign out" in the header while a token is kept.
function showSignOut() {
  const nav = document.querySelector('header.top');
  if (!nav || document.getElementById('signout') || !apiToken()) return;
  nav.append(el('a.signout', { id: 'signout', href: '#', text: 'Sign out',
    onclick: (ev) => { ev.preventDefault(); signOut(); } }));
}

// Asks for a token; resolves when one was entered.
function askToken(why) {
  if (prompting) return prompting;
  prompting = new Promise((resolve) => {
    const input = el('input', { id: 'api-token', type: 'password', autocomplete: 'current-password',
      required: true, 'aria-describedby': 'token-why', spellcheck: 'false' });
    const box = el('div.token-prompt', { role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'token-title' },
      el('form.token-form', {
        onsubmit: (ev) => {
          ev.preventDefault();
          const t = input.value.trim();
          if (!t) return;
          try { sessionStorage.setItem(TOKEN_KEY, t); } catch { /* storage disabled: this page only */ }
          memToken = t;
          box.remove();
          prompting = null;
          showSignOut();
          resolve();
        },
      },
      el('div.state-title', { id: 'token-title', text: 'API token needed' }),
      el('p.state-msg', { id: 'token-why', text: why }),
      el('label', { for: 'api-token', text: 'API token' }), input,
      el('button.btn.btn-primary', { type: 'submit', text: 'Sign in' })));
    document.body.append(box);
    input.focus();
  });
  return prompting;
}

// The token in use: sessionStorage, or (storage disabled) this page's memory.
function currentToken() { return apiToken() || memToken; }

// Resolves like p, or rejects with an AbortError as soon as signal aborts
// (a prefetched request was sent without the page's signal).
function abortable(p, signal) {
  if (!signal) return p;
  return new Promise((resolve, reject) => {
    const abort = () => reject(new DOMException('aborted', 'AbortError'));
    if (signal.aborted) { abort(); return; }
    signal.addEventListener('abort', abort, { once: true });
    p.then((v) => { signal.removeEventListener('abort', abort); resolve(v); });
  });
}

// GET path (relative to /api/v1/) with query params; resolves to the parsed
// JSON body, rejects with ApiError.  Empty params are left out so the
// server's defaults apply.  The first try takes the answer boot.js asked for
// while the page's code loaded, when it asked for this very URL.
export async function apiGet(path, params, signal) {
  const url = apiUrl(path, params);
  let res;
  for (let attempt = 0; ; attempt++) {
    const tok = currentToken();
    const headers = { Accept: 'application/json' };
    if (tok) headers.Authorization = 'Bearer ' + tok;
    try {
      const pre = attempt === 0 ? takePrefetch(url, tok) : null;
      // A prefetch that failed is simply asked again.
      res = pre ? await abortable(pre.catch(() => null), signal) : null;
      if (!res) res = await fetch(url, { signal, headers });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, 'unreachable',
        'Cannot reach the collector. Check that sightline-collector is running and serves this page.');
    }
    if (res.status !== 401 || attempt >= 5) break;
    // Another request may have got a new token meanwhile: retry with it.
    if (currentToken() === tok)
      await askToken(tok ? 'That token was not accepted. Enter another one.'
        : 'This collector requires an API token (its --api-token-read or --api-token-admin value).');
    if (signal && signal.aborted) throw new DOMException('aborted', 'AbortError');
  }
  showSignOut();
  let body = null;
  const text = await res.text();
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    if (res.ok) throw new ApiError(res.status, 'bad_json', `The collector sent invalid JSON for ${url}.`);
  }
  if (!res.ok) {
    const e = body && body.error;
    if (e && typeof e === 'object')
      throw new ApiError(e.status || res.status, e.code || 'error', e.message || res.statusText);
    throw new ApiError(res.status, 'http_' + res.status, `${res.status} ${res.statusText} from ${url}`);
  }
  return body;
}

// A card saying what failed and how to retry; used by every page.
export function errorBox(err, onRetry) {
  const status = err instanceof ApiError ? err.status : 0;
  const code = err instanceof ApiError ? err.code : 'script_error';
  return el('div.state.state-error', { role: 'alert' },
    el('div.state-title', { text: status ? `Request failed (${status} ${code})` : `Request failed (${code})` }),
    el('div.state-msg', { text: err.message || String(err) }),
    onRetry ? el('button.btn', { type: 'button', onclick: onRetry, text: 'Retry' }) : null);
}

export function loadingBox(what) {
  return el('div.state.state-loading', { role: 'status', 'aria-live': 'polite' },
    el('span.spinner', { 'aria-hidden': 'true' }), el('span', { text: `Loading ${what}…` }));
}

export function emptyBox(title, msg) {
  return el('div.state.state-empty', {},
    el('div.state-title', { text: title }), msg ? el('div.state-msg', { text: msg }) : null);
}
