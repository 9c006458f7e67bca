// The planners' view: the province's big problems, filtered by lead agency and by the status of
// their pilot sites; a problem's detail and its sites on the map; the place search.
import maplibregl from 'maplibre-gl';
import { state, t, title } from './state.js';
import { getJSON } from './key.js';
import { showPopup } from './popups.js';
import { $, bboxOf, centerOf, esc } from './util.js';

const agencyOf = (p) => title(p, 'lead_agency_vi', 'lead_agency_en');

export function renderAgencyFilter() {
  const sel = $('#agency-filter');
  const current = sel.value;
  const agencies = [...new Set(state.problems.map(agencyOf))].sort((a, b) => a.localeCompare(b, 'vi'));
  sel.innerHTML = `<option value="">${esc(t('all_agencies'))}</option>` + agencies.map((a) => `<option${a === current ? ' selected' : ''}>${esc(a)}</option>`).join('');
}
function filteredProblems() {
  const agency = $('#agency-filter').value;
  const status = $('#status-filter').value;
  return state.problems.filter((p) => (!agency || agencyOf(p) === agency)
    && (!status || state.sites.some((s) => s.properties.problem_code === p.code && s.properties.status === status)));
}
export function renderProblems() {
  const status = $('#status-filter').value;
  $('#problem-list').innerHTML = filteredProblems().map((p) => {
    const n = state.sites.filter((s) => s.properties.problem_code === p.code && (!status || s.properties.status === status)).length;
    return `<li data-code="${esc(p.code)}" class="${state.selectedProblem === p.code ? 'selected' : ''}">
      <span class="pcode">${esc(p.code)}</span> <span class="ptext">${esc(title(p))}</span>
      <span class="muted">${esc(agencyOf(p))}${n ? ` · ${n} ${t('n_sites')}` : ''}</span></li>`;
  }).join('');
  $('#problem-list').querySelectorAll('li').forEach((li) => li.addEventListener('click', () => selectProblem(li.dataset.code)));
}
const list = (items) => (items && items.length ? `<ul>${items.map((i) => `<li>${esc(i)}</li>`).join('')}</ul>` : '—');

export async function selectProblem(code) {
  const { map } = state;
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
    <dl><dt>${t('lead_agency')}</dt><dd>${esc(agencyOf(p))}</dd>
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
    showPopup(map, c, 'pilot_sites', f.properties);
  }));
  showSelectedSites(fc);
}

function showSelectedSites(fc) {
  const { map } = state;
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

// the place search (names with or without diacritics); the marker is the one of the last result chosen
function initSearch() {
  let searchTimer;
  let searchMarker;
  async function runSearch(q) {
    const { map } = state;
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
  $('#place-search').addEventListener('input', (e) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => runSearch(e.target.value), 200);
  });
}

export function initPlanners() {
  initSearch();
  $('#agency-filter').addEventListener('change', renderProblems);
  $('#status-filter').addEventListener('change', () => {
    renderProblems();
    if (state.selectedProblem) selectProblem(state.selectedProblem);
  });
}

// the view's text again in the language chosen
export function relabelPlanners() {
  if (!state.problems.length) return;
  renderAgencyFilter(); renderProblems();
  if (state.selectedProblem) selectProblem(state.selectedProblem);
}

export async function loadPlanner() {
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
