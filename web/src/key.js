// API key sign-in, and HTTP with the key: it goes with every request to the server, never elsewhere.
import { KEY_STORE, ORIGIN, state, t } from './state.js';
import { $ } from './util.js';

export function authHeaders(extra = {}) {
  return state.key ? { ...extra, 'X-API-Key': state.key } : extra;
}
export async function getJSON(path, opts = {}) {
  const r = await fetch(path.startsWith('http') ? path : ORIGIN + path, { ...opts, headers: authHeaders(opts.headers) });
  if (!r.ok) { const err = new Error(`${r.status} ${path}`); err.status = r.status; throw err; }
  return r.status === 204 ? null : r.json();
}
export function transformRequest(url) {
  if (url.startsWith(ORIGIN) && state.key) return { url, headers: { 'X-API-Key': state.key } };
  return { url };
}

// the caller's layers: the page carries the anonymous caller's; with a key, ask again (a key
// revoked since sign-in is dropped and the anonymous layers asked for)
export async function fetchLayers() {
  let layers = state.key ? null : JSON.parse($('#initial-layers')?.textContent || 'null');
  if (!layers) {
    try {
      layers = await getJSON('/layers');
    } catch (err) {
      if (err.status === 401) { sessionStorage.removeItem(KEY_STORE); state.key = ''; layers = await getJSON('/layers'); } else throw err;
    }
  }
  return layers;
}

export function renderKeyButton() {
  $('#login-btn').textContent = state.key ? t('logout') : t('login');
}

export function initKey() {
  $('#login-btn').addEventListener('click', () => {
    if (state.key) { sessionStorage.removeItem(KEY_STORE); window.location.reload(); return; }
    $('#login-error').hidden = true;
    $('#login-dialog').showModal();
  });
  $('#login-form').addEventListener('submit', async (e) => {
    if (e.submitter?.value !== 'ok') return;
    e.preventDefault();
    const key = $('#key-input').value.trim();
    const r = await fetch(`${ORIGIN}/layers`, { headers: { 'X-API-Key': key } });
    if (!r.ok) { $('#login-error').textContent = t('login_bad'); $('#login-error').hidden = false; return; }
    sessionStorage.setItem(KEY_STORE, key);
    window.location.reload();
  });
}
