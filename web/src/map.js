// Map set-up: the maps, their sources and layers, drawn from the SDI's own OGC API vector tiles
// and GeoJSON; the style and legend of every layer.
import maplibregl from 'maplibre-gl';
import { ORIGIN, state } from './state.js';
import { transformRequest } from './key.js';

const PROVINCE = [[106.09, 21.32], [107.37, 22.47]];

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

export function styleOf(layer) {
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

export function mapLayerIds(id) { return [`${id}-fill`, `${id}-line`, `${id}-circle`, `${id}-label`]; }
export function fillOpacity(id, opacity) { return (id === 'admin_units' ? 0.55 : 0.45) * opacity; }

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
      paint: { 'fill-color': s.fillExpr || s.fill || s.color, 'fill-opacity': fillOpacity(layer.id, opacity) } });
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

export function visibleLayers() { return state.layers.filter((l) => (l.geometry || []).length); }

export function ordered(layers) {
  const rank = (id) => { const i = BASE_ORDER.indexOf(id); return i < 0 ? BASE_ORDER.length : i; };
  return [...layers].sort((a, b) => rank(a.id) - rank(b.id));
}

// every layer the caller may see, as the layer panel has them (the first map sets the panel's
// defaults; map B follows them)
export function addAllLayers(m, withState = true) {
  const layers = ordered(visibleLayers());
  for (const layer of layers) {
    const st = state.layerState[layer.id] || { visible: styleOf(layer).on, opacity: 1 };
    if (withState) state.layerState[layer.id] = st;
    addVectorLayer(m, layer, st.visible, st.opacity);
  }
  // labels above every layer
  const rank = (l) => LABEL_ORDER.indexOf(l.id);
  for (const layer of [...layers].sort((a, b) => rank(a) - rank(b))) {
    addLabelLayer(m, layer, state.layerState[layer.id].visible, state.layerState[layer.id].opacity);
  }
}

// a layer published while the page is open: on at once, labels included (map B follows map A's state)
export function addNewLayer(m, layer, withState = true) {
  for (const lid of mapLayerIds(layer.id)) if (m.getLayer(lid)) m.removeLayer(lid); // the id published again
  for (const src of [`src-${layer.id}`, `lbl-${layer.id}`]) if (m.getSource(src)) m.removeSource(src);
  if (withState) state.layerState[layer.id] = { visible: true, opacity: 1 };
  const st = state.layerState[layer.id];
  addVectorLayer(m, layer, st.visible, st.opacity);
  addLabelLayer(m, layer, st.visible, st.opacity);
}

// --- the maps --------------------------------------------------------------------------------
export function baseStyle() {
  return {
    version: 8, sources: {}, glyphs: `${ORIGIN}/webmap/glyphs/{fontstack}/{range}.pbf`,
    layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#e9eee6' } }],
  };
}

// a map whose style has loaded once (isStyleLoaded() is false again while any source loads)
const loadedMaps = new WeakSet();
export function styleReady(m) { return !!m && loadedMaps.has(m); }
export function newMap(options) {
  const m = new maplibregl.Map({ style: baseStyle(), transformRequest, dragRotate: false, pitchWithRotate: false, ...options });
  // `on`, not `once`: MapLibre calls one-time listeners after the others, and the caller's
  // 'load' listener must find the map ready
  m.on('load', () => loadedMaps.add(m));
  return m;
}

export function createMap() {
  const map = newMap({
    container: 'map', bounds: PROVINCE, fitBoundsOptions: { padding: 10 },
    attributionControl: { compact: true }, maxZoom: 21, fadeDuration: 0,
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');
  state.map = map;
  return map;
}

export function maps() { return state.mapB ? [state.map, state.mapB] : [state.map]; }
