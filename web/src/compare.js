// The rangers' imagery: the timeline of the acquisitions the caller may see, two of them (A, B)
// compared by a swipe or side by side on a second map kept in step with the first; the change
// events of their area.
import { ORIGIN, state, t } from './state.js';
import { getJSON } from './key.js';
import { addAllLayers, newMap, styleReady } from './map.js';
import { onClick } from './popups.js';
import { addEventsTo, loadEvents, renderEvents, selectEvent } from './rangers.js';
import { $, esc } from './util.js';

function ensureMapB() {
  const { map } = state;
  if (state.mapB) return state.mapB;
  $('#map-b').hidden = false;
  const mapB = newMap({ container: 'map-b', center: map.getCenter(), zoom: map.getZoom(), attributionControl: false });
  state.mapB = mapB;
  mapB.on('load', () => { addAllLayers(mapB, false); addRasterTo(mapB, state.pickB); addEventsTo(mapB); });
  let syncing = false;
  const sync = (from, to) => from.on('move', () => {
    if (syncing) return;
    syncing = true;
    to.jumpTo({ center: from.getCenter(), zoom: from.getZoom(), bearing: from.getBearing(), pitch: from.getPitch() });
    syncing = false;
  });
  sync(map, mapB); sync(mapB, map);
  mapB.on('click', onClick(mapB, selectEvent));
  return mapB;
}

function addRasterTo(m, item) {
  if (!styleReady(m)) return;
  if (m.getLayer('raster')) m.removeLayer('raster');
  if (m.getSource('raster')) m.removeSource('raster');
  if (!item) return;
  const algo = item.collection.includes('multispectral') || item.collection.includes('sentinel') ? '' : '';
  m.addSource('raster', { type: 'raster', tileSize: 256, bounds: item.bbox, maxzoom: 22,
    tiles: [`${ORIGIN}/rasters/${encodeURIComponent(item.id)}/tiles/WebMercatorQuad/{z}/{x}/{y}${algo}`] });
  const before = m.getLayer('ev-fill') ? 'ev-fill' : undefined;
  m.addLayer({ id: 'raster', type: 'raster', source: 'raster' }, before);
}

function dateOf(item) { return (item.properties.datetime || '').slice(0, 10); }

function renderTimeline() {
  const tl = $('#timeline');
  if (!state.rasters.length) { tl.innerHTML = `<p class="muted">${t('no_rasters')}</p>`; return; }
  const groups = {};
  for (const it of state.rasters) (groups[it.collection] ||= []).push(it);
  tl.innerHTML = Object.entries(groups).map(([coll, items]) => `<div class="tl-group"><div class="muted">${t('collection')}: ${esc(coll)}</div>
    <div class="tl-track">${items.sort((a, b) => a.properties.datetime.localeCompare(b.properties.datetime)).map((it) => {
    const mark = state.pickA?.id === it.id ? 'A' : state.pickB?.id === it.id ? 'B' : '';
    return `<button class="tl-item ${mark ? 'pick-' + mark : ''}" data-item="${esc(it.id)}" title="${esc(it.id)}">${mark ? `<b>${mark}</b> ` : ''}${esc(dateOf(it))}</button>`;
  }).join('')}</div></div>`).join('');
  tl.querySelectorAll('[data-item]').forEach((b) => b.addEventListener('click', () => pick(b.dataset.item)));
}

function pick(id) {
  const item = state.rasters.find((r) => r.id === id);
  if (state.pickA?.id === id) state.pickA = null;
  else if (state.pickB?.id === id) state.pickB = null;
  else if (!state.pickA) state.pickA = item;
  else if (!state.pickB) state.pickB = item;
  else { state.pickA = state.pickB; state.pickB = item; }
  if (state.pickA && state.pickB && state.pickA.properties.datetime > state.pickB.properties.datetime) {
    [state.pickA, state.pickB] = [state.pickB, state.pickA];
  }
  renderTimeline();
  applyCompare();
}

function applyCompare() {
  const { map } = state;
  const a = state.pickA; const b = state.pickB;
  addRasterTo(map, a);
  const mode = (a && b) ? state.compare : 'off';
  document.body.dataset.compare = mode;
  $('#date-a').hidden = !a; $('#date-a').textContent = a ? `A · ${dateOf(a)}` : '';
  if (mode === 'off') {
    $('#map-b').hidden = true; $('#swipe').hidden = true; $('#date-b').hidden = true;
    $('#maps').classList.remove('side');
    map.resize();
  } else {
    const mb = ensureMapB();
    $('#map-b').hidden = false;
    if (styleReady(mb)) addRasterTo(mb, b);
    $('#date-b').hidden = false; $('#date-b').textContent = `B · ${dateOf(b)}`;
    $('#maps').classList.toggle('side', mode === 'side');
    $('#swipe').hidden = mode !== 'swipe';
    setSwipe(mode === 'swipe' ? state.swipeX ?? $('#maps').clientWidth / 2 : null);
    map.resize(); mb.resize();
  }
  const items = [a, b].filter(Boolean);
  if (items.length) {
    const bb = items.map((i) => i.bbox);
    const w = Math.min(...bb.map((x) => x[0])); const s = Math.min(...bb.map((x) => x[1]));
    const e = Math.max(...bb.map((x) => x[2])); const n = Math.max(...bb.map((x) => x[3]));
    if (!state.fittedTo || state.fittedTo !== items.map((i) => i.id).join()) {
      state.fittedTo = items.map((i) => i.id).join();
      map.fitBounds([[w, s], [e, n]], { padding: 40, duration: 0 });
    }
    loadEvents([w, s, e, n]);
  }
}

function setSwipe(x) {
  const el = $('#map-b');
  if (x === null) { el.style.clipPath = ''; return; }
  state.swipeX = x;
  el.style.clipPath = `inset(0 0 0 ${x}px)`;
  $('#swipe').style.left = `${x}px`;
}

async function loadRanger(bbox = null) {
  try {
    const area = bbox ? `&bbox=${bbox.map((v) => v.toFixed(5)).join(',')}` : '';
    const found = await getJSON(`/stac/search?limit=200${area}`);
    state.rasters = (found.features || []).filter((f) => f.collection !== 'dem');
  } catch { state.rasters = []; }
  renderTimeline();
}

export function initCompare() {
  const handle = $('#swipe');
  let dragging = false;
  handle.addEventListener('pointerdown', (e) => { dragging = true; handle.setPointerCapture(e.pointerId); });
  handle.addEventListener('pointermove', (e) => {
    if (!dragging) return;
    const r = $('#maps').getBoundingClientRect();
    setSwipe(Math.max(0, Math.min(r.width, e.clientX - r.left)));
  });
  handle.addEventListener('pointerup', () => { dragging = false; });
  document.querySelectorAll('.compare-modes button').forEach((b) => b.addEventListener('click', () => {
    state.compare = b.dataset.mode;
    document.querySelectorAll('.compare-modes button').forEach((x) => x.classList.toggle('active', x === b));
    applyCompare();
  }));
  // the acquisitions of the area in view (the timeline starts with all those the caller may see)
  $('#ranger-area').addEventListener('click', () => {
    const b = state.map.getBounds();
    loadRanger([b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]);
  });
}

// the view shown (its timeline loaded the first time) or left (its comparison closed)
export function showRanger(shown) {
  if (shown && !state.rangerLoaded) { state.rangerLoaded = true; loadRanger(); }
  if (!shown && (state.pickA || state.pickB)) { state.pickA = null; state.pickB = null; renderTimeline(); applyCompare(); }
}

// the view's text again in the language chosen
export function relabelRanger() {
  if (state.rangerLoaded) { renderTimeline(); if (state.events) renderEvents(); }
}
