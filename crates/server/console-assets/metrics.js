// The metrics browser: namespaces → dimension sets → metrics, and one search
// over every namespace. The graph sits beside the list (metrics.css). The view
// — selection, statistic, period, range, zoom, time zone, math — lives in the
// hash query (history.replaceState: no hashchange, no re-render), so a reload
// or a shared link shows the same graph.

import { h, mount, route, clear, errorBox } from './dom.js';
import { cw, paginate, session } from './api.js';
import { graphPanel, metricLabel, RANGES } from './chart.js';
import { addToDashboardForm } from './dashadd.js';
import { setZone, useUtc } from './time.js';

if (!document.querySelector('link[data-metrics-css]')) {
  document.head.appendChild(h('link', { rel: 'stylesheet', href: '/console/assets/metrics.css', 'data-metrics-css': '' }));
}

const AGENT_HINT = 'No metrics yet — create an agent key on the Access keys page and start the agent with `stratus agent --config agent.json`, or put data with `aws cloudwatch put-metric-data`.';
const NO_DIMS = '(none)';
const MAX_ROWS = 300; // rows listed by the all-namespace search (refine past that)

/// Selected metrics survive page changes (e.g. on to "Create alarm").
export const selection = {
  get() { try { return JSON.parse(sessionStorage.getItem('stratus.selection') || '[]'); } catch { return []; } },
  set(list) { sessionStorage.setItem('stratus.selection', JSON.stringify(list)); },
};

function sameMetric(a, b) { return a.Namespace === b.Namespace && a.MetricName === b.MetricName && JSON.stringify(a.Dimensions || []) === JSON.stringify(b.Dimensions || []); }

function dimKey(m) { return (m.Dimensions || []).map((d) => d.Name).sort().join(', '); }

function matches(m, q, withNs) {
  return !q || m.MetricName.toLowerCase().includes(q) || (withNs && m.Namespace.toLowerCase().includes(q))
    || (m.Dimensions || []).some((d) => d.Value.toLowerCase().includes(q));
}

// ---- the view in the URL ------------------------------------------------
// sel: metrics joined by ';', each `namespace|name|dim=value|…` (namespace
// empty when it repeats the previous one); the separators are %-escaped
// inside names. x: JSON [[expression, label], …].

const esc = (s) => String(s).replace(/[%|;=]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
const unesc = (s) => { try { return decodeURIComponent(s); } catch { return s; } };

export function encodeSel(list) {
  let prev = null;
  return list.map((m) => {
    const ns = m.Namespace === prev ? '' : esc(m.Namespace);
    prev = m.Namespace;
    return [ns, esc(m.MetricName), ...(m.Dimensions || []).map((d) => `${esc(d.Name)}=${esc(d.Value)}`)].join('|');
  }).join(';');
}

export function decodeSel(s) {
  let prev = '';
  return (s || '').split(';').filter(Boolean).map((part) => {
    const [ns, name = '', ...dims] = part.split('|');
    prev = ns ? unesc(ns) : prev;
    return { Namespace: prev, MetricName: unesc(name), Dimensions: dims.map((d) => {
      const i = d.indexOf('=');
      return { Name: unesc(d.slice(0, i)), Value: unesc(d.slice(i + 1)) };
    }) };
  }).filter((m) => m.Namespace && m.MetricName);
}

const UNITS = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
function parseRange(v) { const m = /^(\d+)([smhdw])$/.exec(v || ''); return m ? Number(m[1]) * UNITS[m[2]] : undefined; }
function rangeText(secs) {
  const known = RANGES.find(([r]) => r === secs);
  if (known) return known[1];
  for (const u of ['w', 'd', 'h', 'm']) if (secs % UNITS[u] === 0) return `${secs / UNITS[u]}${u}`;
  return `${secs}s`;
}
const iso = (t) => new Date(t * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

function readView(params) {
  const tz = params.get('tz');
  if (tz === 'utc' || tz === 'local') setZone(tz);
  const v = { q: params.get('q') || '', stat: params.get('stat') || undefined, period: Number(params.get('period')) || undefined,
    range: parseRange(params.get('range')), refresh: Number(params.get('refresh')) || 0, custom: null, zoom: null, exprs: [], sel: params.has('sel') ? decodeSel(params.get('sel')) : null };
  const f = Date.parse(params.get('from') || ''), t = Date.parse(params.get('to') || '');
  if (f < t) v.custom = [f / 1000, t / 1000];
  const z = (params.get('zoom') || '').split(',').map(Number);
  if (z.length === 2 && z[0] < z[1]) v.zoom = z;
  try { v.exprs = JSON.parse(params.get('x') || '[]').filter(Array.isArray).map(([e, l]) => ({ expr: String(e), label: l ? String(l) : '' })); } catch { /* ignore a mangled x */ }
  return v;
}

/// The hash query with ':', ',', '/', '|', ';', '=' left readable (a URL allows them there).
function queryString(p) {
  return Object.entries(p).filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%(7C|3B|3D|2F|3A|2C|40)/g, (x) => decodeURIComponent(x))}`).join('&');
}

function writeView(v) {
  const tz = useUtc() ? 'utc' : 'local';
  const p = { q: v.q, sel: v.sel.length ? encodeSel(v.sel) : '', stat: v.stat, period: v.period };
  if (v.custom) { p.from = iso(v.custom[0]); p.to = iso(v.custom[1]); } else if (v.range) p.range = rangeText(v.range);
  if (v.zoom) p.zoom = v.zoom.join(',');
  if (v.refresh) p.refresh = v.refresh;
  if (v.exprs.length) p.x = JSON.stringify(v.exprs.map((x) => (x.label ? [x.expr, x.label] : [x.expr])));
  p.tz = tz;
  const path = location.hash.replace(/^#/, '').split('?')[0];
  const next = `#${path}?${queryString(p)}`;
  if (next !== location.hash) history.replaceState(history.state, '', next);
}

// ---- the page ------------------------------------------------------------

export async function metrics(ns, dimset, params = new URLSearchParams()) {
  if (dimset === NO_DIMS) dimset = '';
  const view = readView(params);
  const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/metrics' }, 'Metrics'),
    ns !== undefined ? [' › ', h('a', { href: route('metrics', ns) }, ns)] : null,
    dimset !== undefined ? [' › ', h('span', {}, dimset || '(no dimensions)')] : null);
  mount(h('h1', {}, 'Metrics'), crumbs, h('p', { class: 'muted' }, 'Loading…'));
  if (ns === undefined) {
    const all = await paginate(cw, 'ListMetrics', {}, 'Metrics', 20);
    if (!all.length) { mount(h('h1', {}, 'Metrics'), crumbs, h('p', { class: 'empty' }, AGENT_HINT)); return; }
    const byNs = new Map();
    for (const m of all) byNs.set(m.Namespace, (byNs.get(m.Namespace) || 0) + 1);
    const tiles = h('ul', { class: 'tiles', id: 'namespaces' }, [...byNs].sort().map(([n, c]) => h('li', {}, h('a', { href: route('metrics', n), 'data-namespace': n }, h('strong', {}, n), h('span', { class: 'muted' }, ` ${c} metrics`)))));
    if (!view.sel) view.sel = selection.get();
    const sorted = all.sort((a, b) => a.Namespace.localeCompare(b.Namespace) || metricLabel(a).localeCompare(metricLabel(b)));
    mount(h('h1', {}, 'Metrics'), crumbs, workbench(sorted, [['Namespace', (m) => m.Namespace], ['Metric', (m) => m.MetricName, 'metric-name'],
      ['Dimensions', (m) => (m.Dimensions || []).map((d) => `${d.Name}=${d.Value}`).join(', ')]], view,
    { all: true, placeholder: 'Search all namespaces, metric names and dimension values', idle: tiles }));
    return;
  }
  const all = await paginate(cw, 'ListMetrics', { Namespace: ns }, 'Metrics', 50);
  if (dimset === undefined) {
    // With ?q= (e.g. a host from the overview) only the metrics matching it count.
    const q = view.q.toLowerCase();
    const sets = new Map();
    for (const m of all) if (matches(m, q)) sets.set(dimKey(m), (sets.get(dimKey(m)) || 0) + 1);
    const suffix = q ? '?q=' + encodeURIComponent(view.q) : '';
    mount(h('h1', {}, 'Metrics'), crumbs,
      sets.size ? h('ul', { class: 'tiles', id: 'dimsets' }, [...sets].sort().map(([k, c]) => h('li', {}, h('a', { href: route('metrics', ns, k || NO_DIMS) + suffix, 'data-dimset': k }, h('strong', {}, k || '(no dimensions)'), h('span', { class: 'muted' }, ` ${c} metrics`)))))
        : h('p', { class: 'empty' }, q ? `No metric in ${ns} matches “${view.q}”.` : `No metrics in namespace ${ns}.`));
    return;
  }
  const rows = all.filter((m) => dimKey(m) === dimset).sort((a, b) => metricLabel(a).localeCompare(metricLabel(b)));
  const dimNames = dimset ? dimset.split(', ') : [];
  if (!view.sel) view.sel = selection.get().filter((s) => s.Namespace === ns);
  const dv = (m, n) => (m.Dimensions || []).find((d) => d.Name === n)?.Value ?? '';
  mount(h('h1', {}, 'Metrics'), crumbs, workbench(rows, [...dimNames.map((n) => [n, (m) => dv(m, n)]), ['Metric', (m) => m.MetricName, 'metric-name']], view,
    { placeholder: 'Search metric names and dimension values' }));
}

/// The list (search, select all/none, checkboxes) beside the graph with its
/// math, "Copy link" and "Add to dashboard". `cols`: [header, value(m), class].
function workbench(rows, cols, view, opts) {
  const search = h('input', { type: 'search', id: 'metric-search', placeholder: opts.placeholder, 'aria-label': 'Search metrics', value: view.q });
  const tbody = h('tbody');
  const table = h('div', { class: 'table-wrap' }, h('table', { id: 'metrics-table' }, h('thead', {}, h('tr', {}, h('th', {}, ''), cols.map(([n]) => h('th', {}, n)))), tbody));
  const count = h('span', { class: 'muted', id: 'shown-count' });
  const graphSlot = h('div', { id: 'graph-slot' });
  const actions = h('div', { class: 'actions' });
  const math = h('div', { class: 'math', id: 'math' });
  const dash = h('div', { class: 'dash-add' });
  let shown = [];
  let panel = null;
  const save = () => writeView(view);
  const setSel = (list) => { view.sel = list; selection.set(list); showGraph(); save(); };

  const render = () => {
    const q = search.value.trim().toLowerCase();
    view.q = search.value.trim();
    clear(tbody);
    const idle = opts.all && !q;
    table.hidden = idle; bulk.hidden = idle;
    if (opts.idle) opts.idle.hidden = !idle;
    const hits = idle ? [] : rows.filter((m) => matches(m, q, opts.all));
    shown = hits.slice(0, MAX_ROWS);
    count.textContent = idle ? '' : hits.length > shown.length ? `${shown.length} of ${hits.length} shown — refine the search` : `${hits.length} metrics`;
    for (const m of shown) {
      const cb = h('input', { type: 'checkbox', 'aria-label': `Graph ${metricLabel(m)}`, checked: view.sel.some((s) => sameMetric(s, m)), onchange: () => {
        setSel(cb.checked ? [...view.sel.filter((s) => !sameMetric(s, m)), m] : view.sel.filter((s) => !sameMetric(s, m)));
      } });
      tbody.appendChild(h('tr', { 'data-metric': m.MetricName, 'data-namespace': m.Namespace }, h('td', {}, cb), cols.map(([, f, c]) => h('td', { class: c }, f(m)))));
    }
    if (!shown.length && !idle) tbody.appendChild(h('tr', {}, h('td', { colspan: cols.length + 1, class: 'empty' }, 'No metric matches the search.')));
  };
  const bulk = h('span', { class: 'bulk' },
    h('button', { type: 'button', id: 'select-all', onclick: () => { setSel([...view.sel, ...shown.filter((m) => !view.sel.some((s) => sameMetric(s, m)))]); render(); } }, 'Select all shown'),
    h('button', { type: 'button', id: 'select-none', onclick: () => { setSel(view.sel.filter((s) => !shown.some((m) => sameMetric(s, m)))); render(); } }, 'Select none'));

  const showGraph = () => {
    clear(graphSlot); clear(actions); clear(math); clear(dash);
    if (!view.sel.length) { panel = null; graphSlot.appendChild(h('p', { class: 'muted', id: 'graph-hint' }, opts.all ? 'Search, then tick metrics to graph them together.' : 'Tick metrics to graph them together.')); return; }
    const errs = {};
    panel = graphPanel({ metrics: view.sel, stat: view.stat, period: view.period, range: view.range, custom: view.custom, zoom: view.zoom, expressions: view.exprs, refresh: view.refresh,
      onChange: (st) => { Object.assign(view, { stat: st.stat, period: st.period, range: st.range, custom: st.custom, zoom: st.zoom, refresh: st.refresh }); save(); },
      onErrors: (e) => { for (const [id, el] of Object.entries(errs)) { el.textContent = e[id] || ''; el.hidden = !e[id]; } } });
    graphSlot.appendChild(panel);
    mathEditor(math, view, errs, () => { save(); showGraph(); });
    const linkField = h('input', { type: 'text', id: 'link-field', readonly: true, 'aria-label': 'Link to this view', hidden: true });
    const copy = h('button', { type: 'button', id: 'copy-link', onclick: async () => {
      save();
      linkField.value = location.href;
      try { await navigator.clipboard.writeText(location.href); copy.textContent = 'Link copied'; } catch { linkField.hidden = false; linkField.select(); }
    } }, 'Copy link');
    actions.append(
      h('a', { class: 'button primary', id: 'create-alarm', href: '#/create-alarm', 'aria-disabled': String(view.sel.length !== 1),
        onclick: (e) => { if (view.sel.length !== 1) { e.preventDefault(); alert('Select exactly one metric to create an alarm on it.'); } } }, 'Create alarm'),
      h('button', { type: 'button', onclick: () => { setSel([]); render(); } }, 'Clear selection'),
      copy, h('button', { type: 'button', id: 'add-to-dashboard', onclick: () => addToDashboardForm(dash, (title, y) => widgetFor(view, panel?.settings || { stat: view.stat || 'Average', period: view.period || 300 }, title, y)) }, 'Add to dashboard'), linkField);
  };

  search.addEventListener('input', () => { render(); save(); });
  const list = h('div', { class: 'list-col' }, search, h('div', { class: 'list-tools' }, bulk, count), table, opts.idle || null);
  const side = h('div', { class: 'graph-col' }, graphSlot, actions, math, dash);
  render(); showGraph();
  if (view.sel.length || view.q) save();
  return h('div', { class: 'metrics-work' }, list, side);
}

/// The selected metrics with their ids (m1..mN) and the math expressions on them.
function mathEditor(root, view, errs, changed) {
  root.appendChild(h('ol', { class: 'ids', id: 'metric-ids' }, view.sel.map((m, i) => h('li', {}, h('code', {}, `m${i + 1}`), ' ', `${m.Namespace} · ${metricLabel(m)}`))));
  const rows = view.exprs.map((x, i) => {
    const err = h('span', { class: 'field-error expr-error', role: 'alert', hidden: true });
    errs[`e${i + 1}`] = err;
    return h('li', { class: 'expr', 'data-expr': x.expr }, h('code', {}, `e${i + 1}`), ' ', h('span', { class: 'expr-text' }, x.expr), x.label ? h('span', { class: 'muted' }, ` “${x.label}”`) : null, ' ',
      h('button', { type: 'button', class: 'link', 'aria-label': `Remove ${x.expr}`, onclick: () => { view.exprs.splice(i, 1); changed(); } }, 'Remove'), err);
  });
  const input = h('input', { type: 'text', id: 'expr-input', placeholder: 'e.g. SUM(METRICS()), m1+m2, RATE(m1)', 'aria-label': 'Math expression' });
  const label = h('input', { type: 'text', id: 'expr-label', placeholder: 'Label (optional)', 'aria-label': 'Expression label' });
  const add = () => { const e = input.value.trim(); if (!e) return; view.exprs.push({ expr: e, label: label.value.trim() }); changed(); };
  input.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') add(); });
  // Anomaly band: GetMetricData computes it from the metric's history (no
  // detector needed, as in CloudWatch); drawn as "<label> Low" / "<label> High".
  const bandOf = h('select', { id: 'band-metric', 'aria-label': 'Metric for the anomaly band' },
    view.sel.map((m, i) => h('option', { value: `m${i + 1}` }, `m${i + 1} · ${metricLabel(m)}`)));
  const bandWidth = h('input', { type: 'number', id: 'band-width', min: '0.1', step: '0.1', value: '2', 'aria-label': 'Band width (standard deviations)' });
  const addBand = () => {
    const id = bandOf.value || 'm1';
    const m = view.sel[Number(id.slice(1)) - 1];
    const w = Number(bandWidth.value) > 0 ? Number(bandWidth.value) : 2;
    view.exprs.push({ expr: `ANOMALY_DETECTION_BAND(${id}, ${w})`, label: m ? metricLabel(m) : id });
    changed();
  };
  root.append(rows.length ? h('ul', { class: 'exprs', id: 'exprs' }, rows) : null,
    h('div', { class: 'expr-add' }, input, label, h('button', { type: 'button', id: 'expr-add', onclick: add }, 'Add expression')),
    h('div', { class: 'expr-add band-add' }, view.sel.length > 1 ? bandOf : null, bandWidth,
      h('button', { type: 'button', id: 'anomaly-band', onclick: addBand }, 'Anomaly band')));
}

// ---- add to dashboard ------------------------------------------------------


function widgetFor(view, st, title, y) {
  const rows = view.sel.map((m, i) => [m.Namespace, m.MetricName, ...(m.Dimensions || []).flatMap((d) => [d.Name, d.Value]), { id: `m${i + 1}` }]);
  view.exprs.forEach((x, i) => rows.push([{ expression: x.expr, label: x.label || x.expr, id: `e${i + 1}` }]));
  return { type: 'metric', x: 0, y, width: 12, height: 6, properties: {
    metrics: rows, view: 'timeSeries', stat: st.stat, period: st.period, region: session?.Region || 'us-east-1',
    title: title || (view.sel.length === 1 ? metricLabel(view.sel[0]) : `${view.sel.length} metrics`) } };
}

