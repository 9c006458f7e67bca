// The Lạng Sơn SDI web map: MapLibre GL JS over the SDI's own OGC API vector tiles, STAC and
// raster tiles. No outside request unless the user switches the OpenStreetMap base on.
import maplibregl from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
import './app.css';
import { STRINGS } from './i18n.js';

const ORIGIN = window.location.origin;
const PROVINCE = [[106.09, 21.32], [107.37, 22.47]];
const KEY_STORE = 'sdi-api-key';
const LANG_STORE = 'sdi-lang';

const state = {
  lang: localStorage.getItem(LANG_STORE) || 'vi',
  key: sessionStorage.getItem(KEY_STORE) || '',
  layers: [], problems: [], sites: [], problemsByCode: {},
  selectedProblem: null, rasters: [], pickA: null, pickB: null, compare: 'swipe',
  events: null, selectedEvent: null,
};
const $ = (sel) => document.querySelector(sel);
const t = (k) => (STRINGS[state.lang][k] ?? STRINGS.vi[k] ?? k);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const title = (o, vi = 'title_vi', en = 'title_en') => (state.lang === 'en' && o[en]) ? o[en] : o[vi];

// --- HTTP: the key goes with every request to the server, never elsewhere --------------------
function authHeaders(extra = {}) {
  return state.key ? { ...extra, 'X-API-Key': state.key } : extra;
}
async function getJSON(path, opts = {}) {
  const r = await fetch(path.startsWith('http') ? path : ORIGIN + path, { ...opts, headers: authHeaders(opts.headers) });
  if (!r.ok) { const err = new Error(`${r.status} ${path}`); err.status = r.status; throw err; }
  return r.status === 204 ? null : r.json();
}
function transformRequest(url) {
  if (url.startsWith(ORIGIN) && state.key) return { url, headers: { 'X-API-Key': state.key } };
  return { url };
}

// --- styles and legends per layer ------------------------------------------------------------
const STYLE = {
  admin_units: { color: '#8a7f62', fill: '#f4efe1', kind: 'area', on: true,
    label: { field: 'name', at: 'points', filter: ['==', ['get', 'level'], 'commune'], size: 12, color: '#4e4634', minzoom: 9 } },
  forest_plots: { color: '#2e7d32', kind: 'area', on: false,
    fillExpr: ['match', ['get', 'forest_type'], 'special_use', '#1b5e20', 'protection', '#43a047', '#a5d6a7'],
    legend: [['#1b5e20', 'đặc dụng', 'special-use'], ['#43a047', 'phòng hộ', 'protection'], ['#a5d6a7', 'sản xuất', 'production']] },
  border_belt: { color: '#b71c1c', fill: '#e57373', kind: 'area', on: true },
  rivers: { color: '#2f7fc1', kind: 'line', width: 2, on: true },
  transport_network: { color: '#d9822b', kind: 'line', width: 1.8, on: true,
    dashExpr: ['==', ['get', 'kind_en'], 'railway'],
    legend: [['#d9822b', 'quốc lộ, tỉnh lộ', 'roads'], ['#555555', 'đường sắt', 'railway']] },
  border_line: { color: '#c62828', kind: 'line', width: 2.5, dash: [3, 2], on: true },
  industrial_parks: { color: '#7b1fa2', kind: 'point', radius: 6, on: true },
  border_gates: { color: '#c62828', kind: 'point', radius: 6, on: true,
    label: { field: 'name_vi', size: 11, color: '#8e1b1b', minzoom: 9, offset: true, filter: ['==', ['geometry-type'], 'Point'] } },
  pilot_sites: { color: '#1565c0', kind: 'point', radius: 6, on: true,
    label: { field: 'name_vi', size: 11, color: '#0d47a1', minzoom: 10, offset: true, filter: ['==', ['geometry-type'], 'Point'] } },
  poi_osm: { color: '#6d4c41', kind: 'point', radius: 3.5, on: false },
  change_events: { color: '#ff6f00', fill: '#ffb74d', kind: 'area', on: true },
};
const BASE_ORDER = ['admin_units', 'forest_plots', 'border_belt', 'rivers', 'transport_network', 'border_line',
  'industrial_parks', 'poi_osm', 'border_gates', 'pilot_sites'];

function styleOf(layer) {
  if (STYLE[layer.id]) return STYLE[layer.id];
  const g = (layer.geometry || []).join(' ');
  const kind = /POLYGON/.test(g) && !/POINT/.test(g) ? 'area' : /LINE/.test(g) ? 'line' : 'point';
  return { color: '#00838f', fill: '#80deea', kind, on: false, radius: 5, width: 2 };
}

// small layers come whole (one simplified GeoJSON with every attribute: one request instead of
// a dozen tiles); the commune boundaries, big layers and restricted ones (whose reads the OGC
// door logs) as vector tiles from /ogc
const SMALL_LAYER = 5000;
const ALWAYS_TILED = new Set(['admin_units']);
function isSmall(layer) {
  return layer.access_level !== 'restricted' && layer.feature_count <= SMALL_LAYER && !ALWAYS_TILED.has(layer.id);
}

function mapLayerIds(id) { return [`${id}-fill`, `${id}-line`, `${id}-circle`, `${id}-label`]; }

// Labels: Vietnamese names with their diacritics, drawn from the SDI's own glyphs (DejaVu Sans,
// /webmap/glyphs: MapLibre fetches only the 256-character ranges the names use), with a halo,
// collisions resolved by MapLibre: the upper label layers are placed first (border gates, then
// pilot sites, then commune names).
const LABEL_FONT = ['DejaVu Sans Book'];
const LABEL_ORDER = ['admin_units', 'pilot_sites', 'border_gates'];
function addLabelLayer(map, layer, visible, opacity = 1) {
  const s = styleOf(layer);
  if (!s.label) return;
  const l = s.label;
  let source = `src-${layer.id}`;
  if (l.at === 'points') { // one point inside each polygon, not one label per tile
    source = `lbl-${layer.id}`;
    if (!map.getSource(source)) map.addSource(source, { type: 'geojson', data: `${ORIGIN}/webmap/labels/${layer.id}` });
  }
  const def = { id: `${layer.id}-label`, type: 'symbol', source, minzoom: l.minzoom ?? 0,
    layout: { visibility: visible ? 'visible' : 'none', 'text-field': ['get', l.field], 'text-font': LABEL_FONT,
      'text-size': l.size || 12, 'text-max-width': 9, 'text-padding': 3,
      ...(l.offset ? { 'text-variable-anchor': ['left', 'right', 'top', 'bottom'], 'text-radial-offset': 0.8, 'text-justify': 'auto' } : {}) },
    paint: { 'text-color': l.color || '#333', 'text-halo-color': '#ffffff', 'text-halo-width': 1.6, 'text-halo-blur': 0.5,
      'text-opacity': opacity } };
  if (l.filter) def.filter = l.filter;
  if (source === `src-${layer.id}` && !isSmall(layer)) def['source-layer'] = layer.table;
  map.addLayer(def);
}

function addVectorLayer(map, layer, visible, opacity = 1) {
  const s = styleOf(layer);
  const src = `src-${layer.id}`;
  const whole = isSmall(layer);
  if (!map.getSource(src)) {
    // a hidden small layer is fetched the first time it is switched on
    const data = visible ? `${ORIGIN}/webmap/features/${layer.id}` : { type: 'FeatureCollection', features: [] };
    map.addSource(src, whole ? { type: 'geojson', data } : {
      type: 'vector', minzoom: 0, maxzoom: 14,
      tiles: [`${ORIGIN}/ogc/collections/${layer.id}/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt`],
      bounds: layer.extent || undefined,
    });
  }
  const vis = visible ? 'visible' : 'none';
  const common = { source: src, layout: { visibility: vis } };
  if (!whole) common['source-layer'] = layer.table;
  const geoms = (layer.geometry || []).join(' ');
  if (s.kind === 'area' || /POLYGON/.test(geoms)) {
    map.addLayer({ id: `${layer.id}-fill`, type: 'fill', ...common,
      filter: ['==', ['geometry-type'], 'Polygon'],
      paint: { 'fill-color': s.fillExpr || s.fill || s.color, 'fill-opacity': (layer.id === 'admin_units' ? 0.55 : 0.45) * opacity } });
    map.addLayer({ id: `${layer.id}-line`, type: 'line', ...common,
      filter: ['==', ['geometry-type'], 'Polygon'],
      paint: { 'line-color': s.color, 'line-opacity': opacity,
        'line-width': layer.id === 'admin_units' ? ['case', ['==', ['get', 'level'], 'province'], 3, 0.8] : 1.2 } });
  }
  if (s.kind === 'line') {
    const paint = { 'line-color': s.dashExpr ? ['case', s.dashExpr, '#555555', s.color] : s.color,
      'line-width': s.width || 2, 'line-opacity': opacity };
    if (s.dash) paint['line-dasharray'] = s.dash;
    map.addLayer({ id: `${layer.id}-line`, type: 'line', ...common, paint });
  }
  if (s.kind === 'point' || /POINT/.test(geoms)) {
    map.addLayer({ id: `${layer.id}-circle`, type: 'circle', ...common,
      filter: ['==', ['geometry-type'], 'Point'],
      paint: { 'circle-color': s.color, 'circle-radius': s.radius || 5, 'circle-opacity': opacity,
        'circle-stroke-color': '#ffffff', 'circle-stroke-width': 1.5, 'circle-stroke-opacity': opacity } });
  }
}

function legendHTML(layer) {
  const s = styleOf(layer);
  const sw = (color, kind) => `<span class="swatch ${kind}" style="--c:${color}"></span>`;
  if (s.legend) {
    return s.legend.map(([c, vi, en]) => `<span class="legend-item">${sw(c, s.kind)}${esc(state.lang === 'en' ? en : vi)}</span>`).join('');
  }
  return sw(s.color, s.kind);
}

// --- the map ---------------------------------------------------------------------------------
function baseStyle() {
  return {
    version: 8, sources: {}, glyphs: `${ORIGIN}/webmap/glyphs/{fontstack}/{range}.pbf`,
    layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#e9eee6' } }],
  };
}

const map = new maplibregl.Map({
  container: 'map', style: baseStyle(), bounds: PROVINCE, fitBoundsOptions: { padding: 10 },
  transformRequest, attributionControl: { compact: true }, maxZoom: 21, dragRotate: false, fadeDuration: 0,
  pitchWithRotate: false,
});
map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');
window.sdiMap = { map, state };

const layerState = {}; // id → {visible, opacity}

function visibleLayers() { return state.layers.filter((l) => (l.geometry || []).length); }

function ordered(layers) {
  const rank = (id) => { const i = BASE_ORDER.indexOf(id); return i < 0 ? BASE_ORDER.length : i; };
  return [...layers].sort((a, b) => rank(a.id) - rank(b.id));
}

function addAllLayers(m, withState = true) {
  const layers = ordered(visibleLayers());
  for (const layer of layers) {
    const st = layerState[layer.id] || { visible: styleOf(layer).on, opacity: 1 };
    if (withState) layerState[layer.id] = st;
    addVectorLayer(m, layer, st.visible, st.opacity);
  }
  // labels above every layer
  const rank = (l) => LABEL_ORDER.indexOf(l.id);
  for (const layer of [...layers].sort((a, b) => rank(a) - rank(b))) {
    addLabelLayer(m, layer, layerState[layer.id].visible, layerState[layer.id].opacity);
  }
}

function setVisibility(id, on) {
  layerState[id].visible = on;
  for (const m of maps()) {
    const src = m.getSource(`src-${id}`);
    if (on && src?.type === 'geojson' && typeof src.serialize().data !== 'string') src.setData(`${ORIGIN}/webmap/features/${id}`);
    for (const lid of mapLayerIds(id)) if (m.getLayer(lid)) m.setLayoutProperty(lid, 'visibility', on ? 'visible' : 'none');
  }
}

function setOpacity(id, value) {
  layerState[id].opacity = value;
  for (const m of maps()) {
    if (m.getLayer(`${id}-fill`)) m.setPaintProperty(`${id}-fill`, 'fill-opacity', (id === 'admin_units' ? 0.55 : 0.45) * value);
    if (m.getLayer(`${id}-line`)) m.setPaintProperty(`${id}-line`, 'line-opacity', value);
    if (m.getLayer(`${id}-label`)) m.setPaintProperty(`${id}-label`, 'text-opacity', value);
    if (m.getLayer(`${id}-circle`)) {
      m.setPaintProperty(`${id}-circle`, 'circle-opacity', value);
      m.setPaintProperty(`${id}-circle`, 'circle-stroke-opacity', value);
    }
  }
}

function renderLayerPanel() {
  const list = $('#layer-list');
  const rows = ordered(visibleLayers()).reverse().map((l) => {
    const st = layerState[l.id];
    const badge = l.access_level !== 'public' ? `<span class="badge ${l.access_level}">${t(l.access_level)}</span>` : '';
    return `<div class="layer" data-layer="${esc(l.id)}">
      <label class="row"><input type="checkbox" class="vis" ${st.visible ? 'checked' : ''}>
        <span class="legend">${legendHTML(l).startsWith('<span class="legend-item') ? '' : legendHTML(l)}</span>
        <span class="ltitle">${esc(title(l))}</span>${badge}</label>
      ${styleOf(l).legend ? `<div class="legend-list">${legendHTML(l)}</div>` : ''}
      <label class="opacity"><span>${t('opacity')}</span>
        <input type="range" class="op" min="0" max="1" step="0.05" value="${st.opacity}"></label>
    </div>`;
  });
  if (state.hillshade) {
    rows.push(`<div class="layer" data-layer="hillshade"><label class="row"><input type="checkbox" class="vis-hs" checked>
      <span class="swatch area" style="--c:#999"></span><span class="ltitle">${t('hillshade')}</span></label></div>`);
  }
  list.innerHTML = rows.join('');
  list.querySelectorAll('.layer').forEach((el) => {
    const id = el.dataset.layer;
    el.querySelector('.vis')?.addEventListener('change', (e) => setVisibility(id, e.target.checked));
    el.querySelector('.op')?.addEventListener('input', (e) => setOpacity(id, Number(e.target.value)));
    el.querySelector('.vis-hs')?.addEventListener('change', (e) => map.setLayoutProperty('hillshade', 'visibility', e.target.checked ? 'visible' : 'none'));
  });
}

// optional outside base map: only requested when switched on
$('#osm-toggle').addEventListener('change', (e) => {
  for (const m of maps()) {
    if (e.target.checked) {
      if (!m.getSource('osm')) {
        m.addSource('osm', { type: 'raster', tileSize: 256, maxzoom: 19,
          tiles: ['https://tile.openstreetmap.org/{z}/{x}/{y}.png'], attribution: '© OpenStreetMap contributors' });
        m.addLayer({ id: 'osm', type: 'raster', source: 'osm' }, m.getStyle().layers[1]?.id);
      }
      m.setLayoutProperty('osm', 'visibility', 'visible');
    } else if (m.getLayer('osm')) {
      m.setLayoutProperty('osm', 'visibility', 'none');
    }
  }
});

async function addHillshade() {
  try {
    const found = await getJSON('/stac/search?collections=dem&limit=1');
    const item = found?.features?.[0];
    if (!item) return;
    map.addSource('dem', { type: 'raster', tileSize: 256, bounds: item.bbox,
      tiles: [`${ORIGIN}/rasters/${encodeURIComponent(item.id)}/tiles/WebMercatorQuad/{z}/{x}/{y}.png?algorithm=hillshade`] });
    map.addLayer({ id: 'hillshade', type: 'raster', source: 'dem', paint: { 'raster-opacity': 0.45 } }, map.getStyle().layers[1]?.id);
    state.hillshade = item.id;
    renderLayerPanel();
  } catch { /* no DEM collection visible: no hillshade */ }
}

// --- popups ----------------------------------------------------------------------------------
const HIDDEN_PROPS = new Set(['geom', 'location_source', 'source']);
function propsTable(props) {
  return `<table class="props">${Object.entries(props)
    .filter(([k, v]) => !HIDDEN_PROPS.has(k) && v !== null && v !== '' && v !== '[]')
    .slice(0, 14)
    .map(([k, v]) => {
      const text = String(Array.isArray(v) ? v.join('; ') : v);
      return `<tr><th>${esc(k)}</th><td>${esc(text.length > 140 ? `${text.slice(0, 140)}…` : text)}</td></tr>`;
    }).join('')}</table>`;
}
function popupHTML(layerId, props) {
  const layer = state.layers.find((l) => l.id === layerId);
  let head = `<div class="ptitle">${esc(layer ? title(layer) : layerId)}</div>`;
  const name = state.lang === 'en' ? (props.name_en || props.full_name_en || props.name_vi || props.name || props.full_name)
    : (props.name_vi || props.full_name || props.name);
  if (name) head += `<div class="pname">${esc(name)}</div>`;
  if (layerId === 'pilot_sites' && props.problem_code) {
    const p = state.problemsByCode[props.problem_code];
    head += `<div class="pproblem"><strong>${t('problem')} ${esc(props.problem_code)}</strong>${p ? `: ${esc(title(p))}` : ''}</div>`;
  }
  return head + propsTable(props);
}
function interactiveLayers(m) {
  return m.getStyle().layers.filter((l) => /-(fill|circle|line)$/.test(l.id) && l.id !== 'admin_units-line'
    && m.getLayoutProperty(l.id, 'visibility') !== 'none').map((l) => l.id);
}
function onClick(m) {
  return (e) => {
    const feats = m.queryRenderedFeatures(e.point, { layers: interactiveLayers(m) });
    if (!feats.length) return;
    // points over lines over areas
    const rank = (f) => (f.layer.type === 'circle' ? 0 : f.layer.type === 'line' ? 1 : 2);
    feats.sort((a, b) => rank(a) - rank(b));
    const f = feats[0];
    const layerId = f.layer.id.replace(/-(fill|line|circle)$/, '').replace(/^sel$/, 'pilot_sites');
    if (layerId === 'change_events' || f.layer.id.startsWith('ev-')) { selectEvent(f.properties.id ?? f.id); return; }
    new maplibregl.Popup({ maxWidth: '340px' }).setLngLat(e.lngLat).setHTML(popupHTML(layerId, f.properties)).addTo(m);
  };
}
map.on('click', onClick(map));
map.on('mousemove', (e) => {
  const n = map.queryRenderedFeatures(e.point, { layers: interactiveLayers(map).filter((id) => !id.startsWith('admin_units')) }).length;
  map.getCanvas().style.cursor = n ? 'pointer' : '';
});

// --- planners' view --------------------------------------------------------------------------
const STATUS = ['planned', 'active', 'completed'];
function renderAgencyFilter() {
  const sel = $('#agency-filter');
  const current = sel.value;
  const agencies = [...new Set(state.problems.map((p) => title(p, 'lead_agency_vi', 'lead_agency_en')))].sort((a, b) => a.localeCompare(b, 'vi'));
  sel.innerHTML = `<option value="">${esc(t('all_agencies'))}</option>` + agencies.map((a) => `<option${a === current ? ' selected' : ''}>${esc(a)}</option>`).join('');
}
function filteredProblems() {
  const agency = $('#agency-filter').value;
  const status = $('#status-filter').value;
  return state.problems.filter((p) => (!agency || title(p, 'lead_agency_vi', 'lead_agency_en') === agency)
    && (!status || state.sites.some((s) => s.properties.problem_code === p.code && s.properties.status === status)));
}
function renderProblems() {
  const status = $('#status-filter').value;
  $('#problem-list').innerHTML = filteredProblems().map((p) => {
    const n = state.sites.filter((s) => s.properties.problem_code === p.code && (!status || s.properties.status === status)).length;
    return `<li data-code="${esc(p.code)}" class="${state.selectedProblem === p.code ? 'selected' : ''}">
      <span class="pcode">${esc(p.code)}</span> <span class="ptext">${esc(title(p))}</span>
      <span class="muted">${esc(title(p, 'lead_agency_vi', 'lead_agency_en'))}${n ? ` · ${n} ${t('n_sites')}` : ''}</span></li>`;
  }).join('');
  $('#problem-list').querySelectorAll('li').forEach((li) => li.addEventListener('click', () => selectProblem(li.dataset.code)));
}
const list = (items) => (items && items.length ? `<ul>${items.map((i) => `<li>${esc(i)}</li>`).join('')}</ul>` : '—');

async function selectProblem(code) {
  state.selectedProblem = code;
  const p = state.problemsByCode[code];
  const status = $('#status-filter').value;
  let cql = `problem_code='${code.replace(/'/g, "''")}'`;
  if (status) cql += ` AND status='${status}'`;
  const fc = await getJSON(`/ogc/collections/pilot_sites/items?limit=1000&filter=${encodeURIComponent(cql)}`);
  state.selectedSites = fc.features;
  const sites = fc.features.map((f) => `<li data-site="${esc(f.id)}"><strong>${esc(title(f.properties, 'name_vi', 'name_en'))}</strong>
      <span class="status ${esc(f.properties.status)}">${esc(t('status_' + f.properties.status))}</span><br>
      <span class="muted">${esc(f.properties.agency_vi)}${f.properties.start_date ? ` · ${esc(f.properties.start_date)} – ${esc(f.properties.end_date || '…')}` : ''}</span></li>`).join('');
  const detail = $('#problem-detail');
  detail.hidden = false;
  detail.innerHTML = `<button class="link back">${t('back')}</button>
    <h3><span class="pcode">${esc(p.code)}</span> ${esc(title(p))}</h3>
    <dl><dt>${t('lead_agency')}</dt><dd>${esc(title(p, 'lead_agency_vi', 'lead_agency_en'))}</dd>
    ${(p.partner_agencies_vi || []).length ? `<dt>${t('partners')}</dt><dd>${esc(p.partner_agencies_vi.join('; '))}</dd>` : ''}
    <dt>${t('outputs')}</dt><dd>${list(p.outputs_vi)}</dd>
    <dt>${t('metrics')}</dt><dd>${list(p.metrics_vi)}</dd>
    <dt>${t('milestones')}</dt><dd>${list(p.milestones_vi)}</dd>
    <dt>${t('source')}</dt><dd class="muted">${esc(p.source_document)}</dd></dl>
    <h4>${t('sites')} (${fc.features.length})</h4>${fc.features.length ? `<ul class="sites">${sites}</ul>` : `<p class="muted">${t('no_sites')}</p>`}`;
  $('#problem-list').hidden = true;
  detail.querySelector('.back').addEventListener('click', () => {
    detail.hidden = true; $('#problem-list').hidden = false; state.selectedProblem = null;
    map.getSource('sel')?.setData({ type: 'FeatureCollection', features: [] });
    renderProblems();
  });
  detail.querySelectorAll('[data-site]').forEach((li) => li.addEventListener('click', () => {
    const f = fc.features.find((x) => String(x.id) === li.dataset.site);
    const c = centerOf(f.geometry);
    map.flyTo({ center: c, zoom: Math.max(map.getZoom(), 12) });
    new maplibregl.Popup({ maxWidth: '340px' }).setLngLat(c).setHTML(popupHTML('pilot_sites', f.properties)).addTo(map);
  }));
  showSelectedSites(fc);
}

function centerOf(g) {
  const pts = [];
  const walk = (c) => (typeof c[0] === 'number' ? pts.push(c) : c.forEach(walk));
  walk(g.coordinates);
  const xs = pts.map((p) => p[0]); const ys = pts.map((p) => p[1]);
  return [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2];
}
function bboxOf(features) {
  const pts = [];
  const walk = (c) => (typeof c[0] === 'number' ? pts.push(c) : c.forEach(walk));
  features.forEach((f) => f.geometry && walk(f.geometry.coordinates));
  if (!pts.length) return null;
  const xs = pts.map((p) => p[0]); const ys = pts.map((p) => p[1]);
  return [[Math.min(...xs), Math.min(...ys)], [Math.max(...xs), Math.max(...ys)]];
}

function showSelectedSites(fc) {
  if (!map.getSource('sel')) {
    map.addSource('sel', { type: 'geojson', data: fc });
    map.addLayer({ id: 'sel-fill', type: 'fill', source: 'sel', filter: ['==', ['geometry-type'], 'Polygon'],
      paint: { 'fill-color': '#ffca28', 'fill-opacity': 0.5, 'fill-outline-color': '#e65100' } });
    map.addLayer({ id: 'sel-circle', type: 'circle', source: 'sel', filter: ['==', ['geometry-type'], 'Point'],
      paint: { 'circle-color': '#ffca28', 'circle-radius': 10, 'circle-stroke-color': '#e65100', 'circle-stroke-width': 3 } });
  } else {
    map.getSource('sel').setData(fc);
  }
  const b = bboxOf(fc.features);
  if (b) map.fitBounds(b, { padding: 60, maxZoom: 12, duration: 600 });
}

let searchTimer;
$('#place-search').addEventListener('input', (e) => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => runSearch(e.target.value), 200);
});
let searchMarker;
async function runSearch(q) {
  const ul = $('#search-results');
  if (!q.trim()) { ul.innerHTML = ''; return; }
  const { results } = await getJSON(`/webmap/search?q=${encodeURIComponent(q)}&limit=12`);
  const layerTitle = (id) => { const l = state.layers.find((x) => x.id === id); return l ? title(l) : id; };
  ul.innerHTML = results.length ? results.map((r, i) => `<li data-i="${i}"><strong>${esc(state.lang === 'en' && r.name_en ? r.name_en : r.name)}</strong>
    <span class="muted">${esc(layerTitle(r.layer))}</span></li>`).join('') : `<li class="muted">${t('no_results')}</li>`;
  ul.querySelectorAll('[data-i]').forEach((li) => li.addEventListener('click', () => {
    const r = results[Number(li.dataset.i)];
    const [w, s, e, n] = r.bbox;
    if (e - w > 0.002 || n - s > 0.002) map.fitBounds([[w, s], [e, n]], { padding: 40, duration: 600 });
    else map.flyTo({ center: [r.lon, r.lat], zoom: 14, duration: 600 });
    searchMarker?.remove();
    searchMarker = new maplibregl.Marker({ color: '#e65100' }).setLngLat([r.lon, r.lat]).addTo(map);
    if (r.layer === 'pilot_sites') selectProblem(r.kind);
  }));
}
$('#agency-filter').addEventListener('change', renderProblems);
$('#status-filter').addEventListener('change', () => {
  renderProblems();
  if (state.selectedProblem) selectProblem(state.selectedProblem);
});

async function loadPlanner() {
  const [problems, sites] = await Promise.all([
    getJSON('/ogc/collections/problems/items?limit=1000'),
    getJSON('/ogc/collections/pilot_sites/items?limit=1000&skipGeometry=true&properties=code,problem_code,status'),
  ]);
  const key = (c) => c.split('-').map(Number);
  state.problems = problems.features.map((f) => f.properties)
    .sort((a, b) => { const [ya, na] = key(a.code); const [yb, nb] = key(b.code); return yb - ya || na - nb; });
  state.problemsByCode = Object.fromEntries(state.problems.map((p) => [p.code, p]));
  state.sites = sites.features;
  renderAgencyFilter();
  renderProblems();
}

// --- rangers' view: two acquisitions, swipe or side by side, change events ---------------------
let mapB = null;
// a map whose style has loaded once (isStyleLoaded() is false again while any source loads)
const loadedMaps = new WeakSet();
map.once('load', () => loadedMaps.add(map));
function styleReady(m) { return !!m && loadedMaps.has(m); }
let syncing = false;
function maps() { return mapB ? [map, mapB] : [map]; }
function ensureMapB() {
  if (mapB) return mapB;
  $('#map-b').hidden = false;
  mapB = new maplibregl.Map({ container: 'map-b', style: baseStyle(), center: map.getCenter(), zoom: map.getZoom(),
    transformRequest, attributionControl: false, dragRotate: false, pitchWithRotate: false });
  window.sdiMap.mapB = mapB;
  mapB.on('load', () => { loadedMaps.add(mapB); addAllLayers(mapB, false); addRasterTo(mapB, state.pickB); addEventsTo(mapB); });
  const sync = (from, to) => from.on('move', () => {
    if (syncing) return;
    syncing = true;
    to.jumpTo({ center: from.getCenter(), zoom: from.getZoom(), bearing: from.getBearing(), pitch: from.getPitch() });
    syncing = false;
  });
  sync(map, mapB); sync(mapB, map);
  mapB.on('click', onClick(mapB));
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
    setSwipe(mode === 'swipe' ? swipeX ?? $('#maps').clientWidth / 2 : null);
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

let swipeX = null;
function setSwipe(x) {
  const el = $('#map-b');
  if (x === null) { el.style.clipPath = ''; return; }
  swipeX = x;
  el.style.clipPath = `inset(0 0 0 ${x}px)`;
  $('#swipe').style.left = `${x}px`;
}
(() => {
  const handle = $('#swipe');
  let dragging = false;
  handle.addEventListener('pointerdown', (e) => { dragging = true; handle.setPointerCapture(e.pointerId); });
  handle.addEventListener('pointermove', (e) => {
    if (!dragging) return;
    const r = $('#maps').getBoundingClientRect();
    setSwipe(Math.max(0, Math.min(r.width, e.clientX - r.left)));
  });
  handle.addEventListener('pointerup', () => { dragging = false; });
})();
document.querySelectorAll('.compare-modes button').forEach((b) => b.addEventListener('click', () => {
  state.compare = b.dataset.mode;
  document.querySelectorAll('.compare-modes button').forEach((x) => x.classList.toggle('active', x === b));
  applyCompare();
}));

const EVENT_STATUS_FIELD = 'status';
async function loadEvents(bbox) {
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
function addEventsTo(m) {
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
function renderEvents() {
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
function selectEvent(id) {
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
  map.easeTo({ center: c, duration: 300 });
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

async function loadRanger(bbox = null) {
  try {
    const area = bbox ? `&bbox=${bbox.map((v) => v.toFixed(5)).join(',')}` : '';
    const found = await getJSON(`/stac/search?limit=200${area}`);
    state.rasters = (found.features || []).filter((f) => f.collection !== 'dem');
  } catch { state.rasters = []; }
  renderTimeline();
}
// the acquisitions of the area in view (the timeline starts with all those the caller may see)
$('#ranger-area').addEventListener('click', () => {
  const b = map.getBounds();
  loadRanger([b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]);
});

// --- tabs, language, key ---------------------------------------------------------------------
let rangerLoaded = false;
function showView(view) {
  document.querySelectorAll('#tabs button').forEach((b) => b.classList.toggle('active', b.dataset.view === view));
  document.querySelectorAll('.view').forEach((s) => s.classList.toggle('active', s.id === `view-${view}`));
  document.body.dataset.view = view;
  if (view === 'ranger' && !rangerLoaded) { rangerLoaded = true; loadRanger(); }
  if (view !== 'ranger' && (state.pickA || state.pickB)) { state.pickA = null; state.pickB = null; renderTimeline(); applyCompare(); }
  if (window.innerWidth < 700) setPanel(true);
}
document.querySelectorAll('#tabs button').forEach((b) => b.addEventListener('click', () => showView(b.dataset.view)));

function setPanel(open) {
  document.body.classList.toggle('panel-closed', !open);
  $('#panel-toggle').setAttribute('aria-expanded', String(open));
  setTimeout(() => { for (const m of maps()) m.resize(); }, 0);
}
$('#panel-toggle').addEventListener('click', () => setPanel(document.body.classList.contains('panel-closed')));

function applyLang() {
  document.documentElement.lang = state.lang;
  document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll('[data-i18n-placeholder]').forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  document.querySelectorAll('[data-i18n-title]').forEach((el) => { el.title = t(el.dataset.i18nTitle); });
  document.title = `${state.lang === 'en' ? 'Map' : 'Bản đồ'} · ${t('title')}`;
  const btn = $('#lang-btn');
  btn.textContent = state.lang === 'en' ? 'VI' : 'EN';
  btn.title = state.lang === 'en' ? 'Tiếng Việt' : 'English';
  $('#login-btn').textContent = state.key ? t('logout') : t('login');
  if (state.layers.length) renderLayerPanel();
  if (state.problems.length) {
    renderAgencyFilter(); renderProblems();
    if (state.selectedProblem) selectProblem(state.selectedProblem);
  }
  if (rangerLoaded) { renderTimeline(); if (state.events) renderEvents(); }
}
$('#lang-btn').addEventListener('click', () => {
  state.lang = state.lang === 'en' ? 'vi' : 'en';
  localStorage.setItem(LANG_STORE, state.lang);
  applyLang();
});

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

// --- start -----------------------------------------------------------------------------------
async function start() {
  applyLang();
  if (window.innerWidth < 700) setPanel(false);
  // the page carries the anonymous caller's layers; with a key, ask again
  let layers = state.key ? null : JSON.parse($('#initial-layers')?.textContent || 'null');
  if (!layers) {
    try {
      layers = await getJSON('/layers');
    } catch (err) {
      if (err.status === 401) { sessionStorage.removeItem(KEY_STORE); state.key = ''; layers = await getJSON('/layers'); } else throw err;
    }
  }
  state.layers = layers;
  await new Promise((resolve) => (map.loaded() ? resolve() : map.once('load', resolve)));
  addAllLayers(map);
  renderLayerPanel();
  applyLang();
  // the default view first; then what the other views and popups need
  await new Promise((resolve) => map.once('idle', resolve));
  document.body.dataset.ready = '1';
  performance.mark('sdi-map-ready');
  await loadPlanner();
  document.body.dataset.planner = '1';
  addHillshade();
}
start().catch((err) => { document.body.dataset.error = String(err); throw err; });
