// api.js - the collector's JSON API (/api/v1/) and how its failures are
// turned into one readable error type.
import { el } from './util.js';

export class ApiError extends Error {
  // status: HTTP status (0 when the collector could not be reached);
  // code: the API's machine code ("not_found", "bad_time", ...).
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// GET path (relative to /api/v1/) with query params; resolves to the parsed
// JSON body, rejects with ApiError.  Empty params are left out so the
// server's defaults apply.
export async function apiGet(path, params, signal) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {}))
    if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  const url = '/api/v1/' + path + (qs.toString() ? '?' + qs : '');
  let res;
  try {
    res = await fetch(url, { signal, headers: { Accept: 'application/json' } });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'unreachable',
      'Cannot reach the collector. Check that sightline-collector is running and serves this page.');
  }
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
