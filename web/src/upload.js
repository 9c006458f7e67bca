// Tải dữ liệu lên / Upload: a signed-in agency publishes a layer from a file. The file goes as
// multipart to POST /layers with XMLHttpRequest (so the bar shows the bytes sent) and the key in
// a header (never in a URL); then the keywords by PATCH, the grants by PUT, and the new layer is
// added to the panel and the map and zoomed to. A refusal shows the server's "Vietnamese / English"
// detail and, for data failing the checks (422), the report's issues.
import { ORIGIN, state, t } from './state.js';
import { authHeaders, getJSON } from './key.js';
import { addNewLayer } from './map.js';
import { renderLayerPanel } from './layers.js';
import { $, esc } from './util.js';

const ACCEPT = '.gpkg,.zip,.geojson,.json,.csv,.kml,.kmz,.fgb';
const LAYER_ID = /^[a-z][a-z0-9_]{1,62}$/;
let agencies = []; let yourAgency = null; let idTouched = false; let busy = false;
let last = null; // the last answer shown: {status, body, later}, drawn again when the language changes

// a layer id from a file name: diacritics folded (đ → d), lower case, a-z0-9_ only
export function suggestId(filename) {
  let s = filename.replace(/\.[^.]*$/, '').normalize('NFD').replace(/[\u0300-\u036f]/g, '')
    .replace(/[đĐ]/g, 'd').toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  if (!/^[a-z]/.test(s)) s = `lop_${s}`;
  return s.slice(0, 63).replace(/_+$/, '');
}

const field = (name, key, extra = '') => `<label class="field"><span data-i18n="${key}">${t(key)}</span>
  <input name="${name}" ${extra}></label>`;
const area = (name, key) => `<label class="field"><span data-i18n="${key}">${t(key)}</span>
  <textarea name="${name}" rows="2"></textarea></label>`;

function formHTML() {
  return `<h2 data-i18n="tab_upload">${t('tab_upload')}</h2>
  <p class="muted" data-i18n="up_help">${t('up_help')}</p>
  <form id="upload-form" novalidate>
    <label class="field"><span data-i18n="up_file">${t('up_file')}</span>
      <input type="file" name="file" id="up-file" accept="${ACCEPT}"></label>
    ${field('id', 'up_id', 'id="up-id" autocomplete="off" spellcheck="false" pattern="[a-z][a-z0-9_]{1,62}"')}
    ${field('title_vi', 'up_title_vi', 'id="up-title-vi" lang="vi"')}
    ${field('title_en', 'up_title_en', 'id="up-title-en" lang="en"')}
    ${area('abstract_vi', 'up_abstract_vi')}
    ${area('abstract_en', 'up_abstract_en')}
    ${field('keywords', 'up_keywords', 'data-i18n-placeholder="up_comma" lang="vi"')}
    ${field('keywords_en', 'up_keywords_en', 'data-i18n-placeholder="up_comma" lang="en"')}
    ${field('licence', 'up_licence', 'value="CC BY 4.0"')}
    <label class="field"><span data-i18n="up_access">${t('up_access')}</span>
      <select name="access" id="up-access">
        <option value="public" data-i18n="acc_public">${t('acc_public')}</option>
        <option value="internal" selected data-i18n="acc_internal">${t('acc_internal')}</option>
        <option value="restricted" data-i18n="acc_restricted">${t('acc_restricted')}</option>
      </select></label>
    <fieldset id="up-share"><legend data-i18n="up_share">${t('up_share')}</legend><div id="up-agencies"></div></fieldset>
    <p id="up-error" class="error" role="alert" hidden></p>
    <button type="submit" id="up-submit" data-i18n="up_publish">${t('up_publish')}</button>
  </form>
  <div id="up-progress" hidden><progress max="1" value="0"></progress> <span class="muted"></span></div>
  <div id="up-result" aria-live="polite"></div>`;
}

function renderAgencies() {
  const box = $('#up-agencies');
  if (!box) return;
  const checked = new Set([...box.querySelectorAll('input:checked')].map((i) => i.value));
  box.innerHTML = agencies.filter((a) => a.code !== yourAgency).map((a) => `<label class="row agency">
    <input type="checkbox" name="share" value="${esc(a.code)}" ${checked.has(a.code) ? 'checked' : ''}>
    <span>${esc(state.lang === 'en' ? a.name_en : a.name_vi)}</span></label>`).join('');
}

const mb = (n) => `${(n / 1048576).toLocaleString(state.lang === 'en' ? 'en' : 'vi', { maximumFractionDigits: 1 })} MB`;

function showError(msg) {
  const el = $('#up-error');
  el.textContent = msg;
  el.hidden = !msg;
}

function reportHTML(report, ok) {
  if (!report) return '';
  const c = report.counts || {};
  const counts = ['read', 'inserted', 'repaired', 'rejected'].map((k) => `<tr><th>${t(`rep_${k}`)}</th>
    <td class="num">${esc((c[k] ?? 0).toLocaleString('vi'))}</td></tr>`).join('');
  const issues = (report.issues || []).map((i) => `<li class="issue ${esc(i.severity)}" data-code="${esc(i.code)}">
    <strong>${t(`sev_${i.severity}`)}</strong> ${esc(i.message)}${i.count ? ` <span class="muted">(${esc(i.count)})</span>` : ''}
    ${i.rows?.length ? `<br><span class="muted">${t('rep_rows')}: ${esc(i.rows.slice(0, 10).join(', '))}</span>` : ''}</li>`).join('');
  return `<div class="report ${ok ? 'ok' : 'failed'}"><h3>${t('rep_title')}</h3>
    <table class="counts"><tbody>${counts}</tbody></table>
    ${issues ? `<ul class="issues">${issues}</ul>` : `<p class="muted">${t('rep_clean')}</p>`}</div>`;
}

function renderResult() {
  const result = $('#up-result');
  if (!result || !last) return;
  const { status, body, later = [] } = last;
  if (status === 0) result.innerHTML = `<p class="error">${esc(body)}</p>`;
  else if (status !== 201) {
    const detail = body?.detail || body?.title || `HTTP ${status}`;
    result.innerHTML = `<p class="error problem">${esc(detail)}</p>${status === 422 ? reportHTML(body?.report, false) : ''}`;
  } else {
    result.innerHTML = `<p class="ok-msg">${t('up_done')} <code>${esc(body.layer.id)}</code></p>${reportHTML(body.report, true)}`
      + (later.length ? `<p class="error">${later.map(esc).join('<br>')}</p>` : '');
  }
}

// POST the form with XMLHttpRequest: upload progress, the key in a header; resolves {status, body}
function send(data, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `${ORIGIN}/layers`);
    for (const [k, v] of Object.entries(authHeaders({ Accept: 'application/json' }))) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : 0);
    xhr.upload.onload = () => onProgress(-1, 0);
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON: the status says it */ }
      resolve({ status: xhr.status, body });
    };
    xhr.onerror = () => reject(new Error(t('up_network')));
    xhr.send(data);
  });
}

const words = (s) => s.split(/[,;]/).map((w) => w.trim()).filter(Boolean);

async function publish(form) {
  const f = form.elements;
  const file = f.file.files[0];
  const id = f.id.value.trim();
  if (!file) return showError(t('up_need_file'));
  if (!LAYER_ID.test(id)) return showError(t('up_bad_id'));
  if (!f.title_vi.value.trim()) { f.title_vi.focus(); return showError(t('up_need_title')); }
  showError('');
  const data = new FormData();
  data.append('id', id);
  for (const k of ['title_vi', 'title_en', 'abstract_vi', 'abstract_en', 'licence', 'access']) {
    if (f[k].value.trim()) data.append(k, f[k].value.trim());
  }
  data.append('file', file, file.name);
  const shareWith = [...form.querySelectorAll('input[name=share]:checked')].map((i) => i.value);
  const bar = $('#up-progress'); const result = $('#up-result');
  const [progress, label] = [bar.querySelector('progress'), bar.querySelector('span')];
  bar.hidden = false; result.innerHTML = ''; last = null; busy = true; $('#up-submit').disabled = true;
  document.body.dataset.upload = 'sending';
  try {
    const { status, body } = await send(data, (sent, total) => {
      if (sent < 0) { progress.removeAttribute('value'); label.textContent = t('up_checking'); return; }
      progress.value = total ? sent / total : 0;
      label.textContent = `${mb(sent)} / ${mb(total || file.size)}`;
    });
    last = { status, body };
    renderResult();
    result.scrollIntoView({ block: 'nearest' });
    if (status !== 201) { document.body.dataset.upload = 'refused'; return; }
    last.later = await finish(id, f, shareWith);
    renderResult();
    form.reset(); idTouched = false; renderAgencies();
    document.body.dataset.upload = 'published';
  } catch (err) {
    last = { status: 0, body: err.message };
    renderResult();
    document.body.dataset.upload = 'refused';
  } finally {
    bar.hidden = true; busy = false; $('#up-submit').disabled = false;
  }
}

// the new layer as /layers lists it: every door learns of it within a second or so
async function listed(id) {
  for (let i = 0; i < 40; i += 1) {
    const layer = (await getJSON('/layers')).find((l) => l.id === id);
    if (layer) return layer;
    await new Promise((r) => setTimeout(r, 250));
  }
  return null;
}

// after a 201: the keywords (PATCH), the grants (PUT), then the layer on the map; what failed
async function finish(id, f, shareWith) {
  const failed = [];
  let layer = await listed(id);
  const patch = {};
  if (words(f.keywords.value).length) patch.keywords = words(f.keywords.value);
  if (words(f.keywords_en.value).length) patch.keywords_en = words(f.keywords_en.value);
  const call = async (method, path, body, what) => {
    const r = await fetch(ORIGIN + path, { method, body: JSON.stringify(body),
      headers: authHeaders({ 'Content-Type': 'application/json' }) });
    if (!r.ok) failed.push(`${what}: ${(await r.json().catch(() => null))?.detail || r.status}`);
    return r.ok ? r.json() : null;
  };
  if (Object.keys(patch).length) {
    layer = (await call('PATCH', `/layers/${encodeURIComponent(id)}`, patch, t('up_keywords'))) || layer;
  }
  for (const code of shareWith) {
    await call('PUT', `/layers/${encodeURIComponent(id)}/grants/${encodeURIComponent(code)}`, { permission: 'read' }, code);
  }
  if (layer) {
    state.layers = [...state.layers.filter((l) => l.id !== id), layer];
    addNewLayer(state.map, layer);
    if (state.mapB) addNewLayer(state.mapB, layer, false);
    renderLayerPanel();
    const e = layer.extent;
    if (e) state.map.fitBounds([[e[0], e[1]], [e[2], e[3]]], { padding: 60, maxZoom: 15, duration: 0 });
  }
  return failed;
}

export function relabelUpload() { renderAgencies(); renderResult(); }

// the tab and its form: only with a key
export async function initUpload(showView) {
  if (!state.key) return;
  const tab = document.createElement('button');
  tab.setAttribute('role', 'tab'); tab.textContent = t('tab_upload');
  tab.dataset.view = 'upload'; tab.dataset.i18n = 'tab_upload';
  tab.addEventListener('click', () => showView('upload'));
  $('#tabs').append(tab);
  const view = document.createElement('section');
  view.id = 'view-upload'; view.className = 'view';
  view.innerHTML = formHTML();
  $('#panel').append(view);
  const form = $('#upload-form');
  $('#up-id').addEventListener('input', () => { idTouched = true; });
  $('#up-file').addEventListener('change', (e) => {
    const file = e.target.files[0];
    if (file && (!idTouched || !$('#up-id').value)) $('#up-id').value = suggestId(file.name);
  });
  form.addEventListener('submit', (e) => { e.preventDefault(); if (!busy) publish(form); });
  try {
    const found = await getJSON('/agencies');
    agencies = found.agencies; yourAgency = found.your_agency;
  } catch { agencies = []; }
  renderAgencies();
}
