// The one shared state of the web map (every view reads and writes this object, nothing else is
// shared between modules), and the helpers that read the chosen language from it.
import { STRINGS } from './i18n.js';

export const ORIGIN = window.location.origin;
export const KEY_STORE = 'sdi-api-key';
export const LANG_STORE = 'sdi-lang';

export const state = {
  lang: localStorage.getItem(LANG_STORE) || 'vi',
  key: sessionStorage.getItem(KEY_STORE) || '',
  layers: [], problems: [], sites: [], problemsByCode: {},
  selectedProblem: null, selectedSites: null, // the planners' view
  rangerLoaded: false, rasters: [], pickA: null, pickB: null, compare: 'swipe', swipeX: null, fittedTo: null, // the rangers'
  events: null, selectedEvent: null,
  hillshade: null, // the DEM item shaded, once found
  map: null, mapB: null, // the map, and the second one of the rangers' comparison once opened
  layerState: {}, // layer id → {visible, opacity}
};

export const t = (k) => (STRINGS[state.lang][k] ?? STRINGS.vi[k] ?? k);
export const title = (o, vi = 'title_vi', en = 'title_en') => (state.lang === 'en' && o[en]) ? o[en] : o[vi];
