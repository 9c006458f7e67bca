// The Lạng Sơn SDI web map: MapLibre GL JS over the SDI's own OGC API vector tiles, STAC and
// raster tiles. No outside request unless the user switches the OpenStreetMap base on.
// This module wires the views together: the tabs, the panel, the language, the start.
import 'maplibre-gl/dist/maplibre-gl.css';
import './app.css';
import { LANG_STORE, state, t } from './state.js';
import { fetchLayers, initKey, renderKeyButton } from './key.js';
import { addAllLayers, createMap, maps } from './map.js';
import { onClick, pointerOnFeatures } from './popups.js';
import { addHillshade, initLayers, renderLayerPanel } from './layers.js';
import { initPlanners, loadPlanner, relabelPlanners } from './planners.js';
import { selectEvent } from './rangers.js';
import { initCompare, relabelRanger, showRanger } from './compare.js';
import { initUpload, relabelUpload } from './upload.js';
import { $ } from './util.js';

const map = createMap();
window.sdiMap = { map, state, get mapB() { return state.mapB ?? undefined; } };

initLayers();
map.on('click', onClick(map, selectEvent));
pointerOnFeatures(map);
initPlanners();
initCompare();

// --- tabs, panel, language -------------------------------------------------------------------
function showView(view) {
  document.querySelectorAll('#tabs button').forEach((b) => b.classList.toggle('active', b.dataset.view === view));
  document.querySelectorAll('.view').forEach((s) => s.classList.toggle('active', s.id === `view-${view}`));
  document.body.dataset.view = view;
  showRanger(view === 'ranger');
  if (window.innerWidth < 700) setPanel(true);
}
document.querySelectorAll('#tabs button').forEach((b) => b.addEventListener('click', () => showView(b.dataset.view)));
initUpload(showView); // the upload tab, with a key only

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
  renderKeyButton();
  if (state.layers.length) renderLayerPanel();
  relabelPlanners();
  relabelRanger();
  relabelUpload();
}
$('#lang-btn').addEventListener('click', () => {
  state.lang = state.lang === 'en' ? 'vi' : 'en';
  localStorage.setItem(LANG_STORE, state.lang);
  applyLang();
});

initKey();

// --- start -----------------------------------------------------------------------------------
async function start() {
  applyLang();
  if (window.innerWidth < 700) setPanel(false);
  state.layers = await fetchLayers();
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
