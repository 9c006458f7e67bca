// The rangers' change events: the events of the compared acquisitions on the maps and in a list,
// an event's detail, its status set (verified, false alarm) with the key, its run's report.
import { ORIGIN, state, t } from './state.js';
import { authHeaders, getJSON } from './key.js';
import { maps, styleReady } from './map.js';
import { propsTable } from './popups.js';
import { $, centerOf, esc } from './util.js';

const EVENT_STATUS_FIELD = 'status';
export async function loadEvents(bbox) {
  const box = $('#events');
  if (!state.layers.some((l) => l.id === 'change_events')) {
    box.innerHTML = `<p class="muted">${t('no_events_layer')}</p>`;
    return;
  }
  try {
    const fc = await getJSON(`/ogc/collections/change_events/items?limit=500&bbox=${bbox.map((v) => v.toFixed(6)).join(',')}`);
    // the events of the chosen pair when the engine recorded them, else all in the images' area
    const pair = fc.features.filter((f) => f.properties.before_item === state.pickA?.id && f.properties.after_item === state.pickB?.id);
    state.events = pair.length ? { ...fc, features: pair } : fc;
  } catch {
    state.events = { type: 'FeatureCollection', features: [] };
  }
  renderEvents();
  for (const m of maps()) addEventsTo(m);
}
export function addEventsTo(m) {
  if (!state.events || !m) return;
  if (m.getSource('ev')) { m.getSource('ev').setData(state.events); return; }
  if (!styleReady(m)) return;
  const color = ['match', ['get', EVENT_STATUS_FIELD], 'verified', '#c62828', 'false_alarm', '#9e9e9e', '#ff6f00'];
  m.addSource('ev', { type: 'geojson', data: state.events, promoteId: 'id' });
  m.addLayer({ id: 'ev-fill', type: 'fill', source: 'ev', paint: { 'fill-color': color, 'fill-opacity': 0.25 } });
  m.addLayer({ id: 'ev-line', type: 'line', source: 'ev', paint: { 'line-color': color, 'line-width': 2.5 } });
}
function eventLabel(f) {
  const p = f.properties;
  const kind = p.change_type ? t(`ch_${p.change_type}`) : (p.kind_vi || p.kind || p.type || f.id);
  const size = p.area_ha != null ? ` · ${Number(p.area_ha).toLocaleString(state.lang === 'en' ? 'en' : 'vi', { maximumFractionDigits: 2 })} ha` : '';
  const date = p.after_date ? ` · ${String(p.after_date).slice(0, 10)}` : '';
  return `${esc(kind)}${esc(size)}${esc(date)} · ${esc(t('ev_' + (p[EVENT_STATUS_FIELD] || 'new')))}`;
}
export function renderEvents() {
  const box = $('#events');
  const feats = state.events?.features || [];
  box.innerHTML = `<h3>${t('events')} (${feats.length})</h3>` + (feats.length
    ? `<ul class="events">${feats.map((f) => `<li data-ev="${esc(f.id)}">${eventLabel(f)}</li>`).join('')}</ul>`
    : `<p class="muted">${t('no_events')}</p>`);
  box.querySelectorAll('[data-ev]').forEach((li) => li.addEventListener('click', () => selectEvent(li.dataset.ev)));
}
// the report of the event's run (before/after items) for its commune, else for the whole run
function reportURL(f, format = 'html') {
  const p = f.properties;
  if (!p.before_item || !p.after_item) return null;
  const q = new URLSearchParams(p.commune_code ? { commune: p.commune_code, f: format } : { f: format });
  return `${ORIGIN}/change/reports/${encodeURIComponent(p.before_item)}/${encodeURIComponent(p.after_item)}?${q}`;
}
// Reports need the key, and a tab opened on a link cannot send a header: the tab is opened at
// once (still in the click, so no popup blocker), the report fetched with the key, and the tab
// shown it from a blob: URL. The key never goes into a URL, a history entry or a server log.
async function openReport(url, msg) {
  const tab = window.open('', '_blank');
  if (tab) tab.opener = null;
  try {
    const r = await fetch(url, { headers: authHeaders() });
    if (!r.ok) throw new Error(String(r.status));
    const blobURL = URL.createObjectURL(await r.blob());
    if (tab) tab.location.href = blobURL; else window.location.href = blobURL;
    setTimeout(() => URL.revokeObjectURL(blobURL), 60_000);
  } catch (err) {
    tab?.close();
    if (msg) msg.textContent = `${t('report_failed')} (${err.message})`;
  }
}
export function selectEvent(id) {
  const f = state.events?.features.find((x) => String(x.id) === String(id) || String(x.properties.id) === String(id));
  if (!f) return;
  state.selectedEvent = f;
  const d = $('#event-detail');
  d.hidden = false;
  const report = reportURL(f);
  d.innerHTML = `<h3>${eventLabel(f)}</h3>${propsTable(f.properties)}
    <div class="row"><button class="mark" data-status="verified">${t('verify')}</button>
    <button class="mark" data-status="false_alarm">${t('false_alarm')}</button></div>
    ${report ? `<div class="row report"><a class="button" data-report target="_blank" rel="noopener" href="${esc(report)}">${t('report')}</a>
      <a class="pdf" data-report target="_blank" rel="noopener" href="${esc(reportURL(f, 'pdf'))}">PDF</a></div>` : ''}
    <p class="msg muted"></p>`;
  d.querySelectorAll('.mark').forEach((b) => b.addEventListener('click', () => markEvent(f, b.dataset.status)));
  d.querySelectorAll('[data-report]').forEach((a) => a.addEventListener('click', (e) => {
    e.preventDefault();
    openReport(a.href, d.querySelector('.msg'));
  }));
  const c = centerOf(f.geometry);
  state.map.easeTo({ center: c, duration: 300 });
}
async function markEvent(f, status) {
  const msg = $('#event-detail .msg');
  if (!state.key) { msg.textContent = t('need_key'); return; }
  const body = { type: 'Feature', geometry: f.geometry, properties: { ...f.properties, [EVENT_STATUS_FIELD]: status } };
  const r = await fetch(`${ORIGIN}/ogc/collections/change_events/items/${encodeURIComponent(f.id)}`, {
    method: 'PUT', headers: authHeaders({ 'Content-Type': 'application/geo+json' }), body: JSON.stringify(body),
  });
  if (r.ok) {
    f.properties[EVENT_STATUS_FIELD] = status;
    msg.textContent = t('saved');
    renderEvents();
    for (const m of maps()) m.getSource('ev')?.setData(state.events);
  } else {
    msg.textContent = `${t('save_failed')} (${r.status})`;
  }
}
