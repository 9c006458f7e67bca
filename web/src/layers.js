// The layer panel: every layer the caller may see, with its legend, visibility and opacity (on
// both maps while the rangers compare two dates); the hillshade; the optional OpenStreetMap base.
import { ORIGIN, state, t, title } from './state.js';
import { getJSON } from './key.js';
import { fillOpacity, mapLayerIds, maps, ordered, styleOf, visibleLayers } from './map.js';
import { $, esc } from './util.js';

function legendHTML(layer) {
  const s = styleOf(layer);
  const sw = (color, kind) => `<span class="swatch ${kind}" style="--c:${color}"></span>`;
  if (s.legend) {
    return s.legend.map(([c, vi, en]) => `<span class="legend-item">${sw(c, s.kind)}${esc(state.lang === 'en' ? en : vi)}</span>`).join('');
  }
  return sw(s.color, s.kind);
}

function setVisibility(id, on) {
  state.layerState[id].visible = on;
  for (const m of maps()) {
    const src = m.getSource(`src-${id}`);
    if (on && src?.type === 'geojson' && typeof src.serialize().data !== 'string') src.setData(`${ORIGIN}/webmap/features/${id}`);
    for (const lid of mapLayerIds(id)) if (m.getLayer(lid)) m.setLayoutProperty(lid, 'visibility', on ? 'visible' : 'none');
  }
}

function setOpacity(id, value) {
  state.layerState[id].opacity = value;
  for (const m of maps()) {
    if (m.getLayer(`${id}-fill`)) m.setPaintProperty(`${id}-fill`, 'fill-opacity', fillOpacity(id, value));
    if (m.getLayer(`${id}-line`)) m.setPaintProperty(`${id}-line`, 'line-opacity', value);
    if (m.getLayer(`${id}-label`)) m.setPaintProperty(`${id}-label`, 'text-opacity', value);
    if (m.getLayer(`${id}-circle`)) {
      m.setPaintProperty(`${id}-circle`, 'circle-opacity', value);
      m.setPaintProperty(`${id}-circle`, 'circle-stroke-opacity', value);
    }
  }
}

// when the layer last changed, and who published it (published layers)
function updatedHTML(layer) {
  if (!layer.last_updated) return '';
  const d = new Date(layer.last_updated); const two = (n) => String(n).padStart(2, '0');
  const when = `${two(d.getDate())}/${two(d.getMonth() + 1)}/${d.getFullYear()} ${two(d.getHours())}:${two(d.getMinutes())}`;
  const who = layer.created_by ? ` · ${t('by')} ${esc(layer.created_by)}` : '';
  return `<div class="updated muted">${t('updated')} ${esc(when)}${who}</div>`;
}

export function renderLayerPanel() {
  const list = $('#layer-list');
  const rows = ordered(visibleLayers()).reverse().map((l) => {
    const st = state.layerState[l.id];
    const badge = l.access_level !== 'public' ? `<span class="badge ${l.access_level}">${t(l.access_level)}</span>` : '';
    return `<div class="layer" data-layer="${esc(l.id)}">
      <label class="row"><input type="checkbox" class="vis" ${st.visible ? 'checked' : ''}>
        <span class="legend">${legendHTML(l).startsWith('<span class="legend-item') ? '' : legendHTML(l)}</span>
        <span class="ltitle">${esc(title(l))}</span>${badge}</label>
      ${styleOf(l).legend ? `<div class="legend-list">${legendHTML(l)}</div>` : ''}
      ${updatedHTML(l)}
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
    el.querySelector('.vis-hs')?.addEventListener('change', (e) => state.map.setLayoutProperty('hillshade', 'visibility', e.target.checked ? 'visible' : 'none'));
  });
}

// optional outside base map: only requested when switched on
export function initLayers() {
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
}

export async function addHillshade() {
  const { map } = state;
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
