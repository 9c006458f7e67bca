// Popups: a click on a feature shows its attributes; a click on a change event selects it.
import maplibregl from 'maplibre-gl';
import { state, t, title } from './state.js';
import { esc } from './util.js';

const HIDDEN_PROPS = new Set(['geom', 'location_source', 'source']);
export function propsTable(props) {
  return `<table class="props">${Object.entries(props)
    .filter(([k, v]) => !HIDDEN_PROPS.has(k) && v !== null && v !== '' && v !== '[]')
    .slice(0, 14)
    .map(([k, v]) => {
      const text = String(Array.isArray(v) ? v.join('; ') : v);
      return `<tr><th>${esc(k)}</th><td>${esc(text.length > 140 ? `${text.slice(0, 140)}…` : text)}</td></tr>`;
    }).join('')}</table>`;
}
export function popupHTML(layerId, props) {
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
export function showPopup(m, lngLat, layerId, props) {
  new maplibregl.Popup({ maxWidth: '340px' }).setLngLat(lngLat).setHTML(popupHTML(layerId, props)).addTo(m);
}

function interactiveLayers(m) {
  return m.getStyle().layers.filter((l) => /-(fill|circle|line)$/.test(l.id) && l.id !== 'admin_units-line'
    && m.getLayoutProperty(l.id, 'visibility') !== 'none').map((l) => l.id);
}
// the click handler of map m; onEvent(id) is given the change events clicked
export function onClick(m, onEvent) {
  return (e) => {
    const feats = m.queryRenderedFeatures(e.point, { layers: interactiveLayers(m) });
    if (!feats.length) return;
    // points over lines over areas
    const rank = (f) => (f.layer.type === 'circle' ? 0 : f.layer.type === 'line' ? 1 : 2);
    feats.sort((a, b) => rank(a) - rank(b));
    const f = feats[0];
    const layerId = f.layer.id.replace(/-(fill|line|circle)$/, '').replace(/^sel$/, 'pilot_sites');
    if (layerId === 'change_events' || f.layer.id.startsWith('ev-')) { onEvent(f.properties.id ?? f.id); return; }
    showPopup(m, e.lngLat, layerId, f.properties);
  };
}
export function pointerOnFeatures(m) {
  m.on('mousemove', (e) => {
    const n = m.queryRenderedFeatures(e.point, { layers: interactiveLayers(m).filter((id) => !id.startsWith('admin_units')) }).length;
    m.getCanvas().style.cursor = n ? 'pointer' : '';
  });
}
