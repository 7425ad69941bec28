// The console's only data path: POST /console/api/{service}/{Action} with the
// action's parameters as JSON, the session's CSRF token in a header. The
// server runs the same actions as the signed API, under the same policies.

let csrf = '';
export let session = null;

export class ApiError extends Error {
  constructor(code, message, status) {
    super(message || code);
    this.code = code;
    this.status = status;
  }
}

function toLogin() {
  location.assign('/console/login' + (location.hash.startsWith('#/') ? location.hash : ''));
}

export async function loadSession() {
  const r = await fetch('/console/api/session', { credentials: 'same-origin' });
  if (r.status === 401) { toLogin(); return null; }
  session = await r.json();
  csrf = session.CsrfToken;
  return session;
}

export async function call(service, action, params = {}) {
  const r = await fetch(`/console/api/${service}/${action}`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
    body: JSON.stringify(params),
  });
  const body = await r.json().catch(() => ({}));
  if (r.status === 401) { toLogin(); throw new ApiError('NotLoggedIn', body.message, 401); }
  if (!r.ok) throw new ApiError(body.__type || `HTTP ${r.status}`, body.message, r.status);
  return body;
}

export const cw = (action, params) => call('monitoring', action, params);
export const sns = (action, params) => call('sns', action, params);
export const admin = (action, params) => call('stratus', action, params);

/// Follows NextToken until done (or `maxPages`), concatenating `listKey`.
export async function paginate(fn, action, params, listKey, maxPages = 20) {
  let out = [], token;
  for (let i = 0; i < maxPages; i++) {
    const r = await fn(action, token ? { ...params, NextToken: token } : params);
    out = out.concat(r[listKey] || []);
    token = r.NextToken;
    if (!token) break;
  }
  return out;
}
