// CloudWatch dashboards: the list, one dashboard's metric and text widgets
// on the 24-column grid, and creating/editing a body as JSON.

import { h, mount, route, errorBox, field, clear } from './dom.js';
import { cw, paginate } from './api.js';
import { graphPanel, RANGES, defaultPeriod } from './chart.js';

const TEMPLATE = { widgets: [{ type: 'metric', x: 0, y: 0, width: 12, height: 6,
  properties: { title: 'Disk used', metrics: [['CWAgent', 'disk_used_percent', 'path', '/']], stat: 'Average', period: 300, region: 'us-east-1' } }] };

export async function list() {
  mount(h('h1', {}, 'Dashboards'), h('p', { class: 'muted' }, 'Loading…'));
  const all = await paginate(cw, 'ListDashboards', {}, 'DashboardEntries', 20);
  mount(h('h1', {}, 'Dashboards'), h('div', { class: 'actions' }, h('a', { class: 'button primary', href: '#/dashboard-edit' }, 'Create dashboard')),
    all.length ? h('ul', { class: 'tiles', id: 'dashboards' }, all.map((d) => h('li', {}, h('a', { href: route('dashboards', d.DashboardName) }, h('strong', {}, d.DashboardName)))))
      : h('p', { class: 'empty' }, 'No dashboards yet.'));
}

/// A metric widget's `metrics` rows as metric identities ("." repeats the
/// value above; a trailing object carries options).
export function widgetMetrics(rows) {
  const out = [];
  let prev = [];
  for (const row of rows || []) {
    if (!Array.isArray(row)) continue;
    const parts = row.filter((x) => typeof x === 'string').map((x, i) => (x === '.' ? prev[i] : x));
    const opts = row.find((x) => x && typeof x === 'object') || {};
    prev = parts;
    if (parts.length < 2 || opts.expression) continue;
    const dims = [];
    for (let i = 2; i + 1 < parts.length; i += 2) dims.push({ Name: parts[i], Value: parts[i + 1] });
    out.push({ Namespace: parts[0], MetricName: parts[1], Dimensions: dims, stat: opts.stat });
  }
  return out;
}

export async function view(name, params) {
  mount(h('h1', {}, name), h('p', { class: 'muted' }, 'Loading…'));
  const d = await cw('GetDashboard', { DashboardName: name });
  let body = {};
  try { body = JSON.parse(d.DashboardBody || '{}'); } catch { body = { widgets: [] }; }
  const range = Number(params.get('range')) || 3 * 3600;
  const grid = h('div', { class: 'dash-grid', id: 'dashboard-grid' });
  for (const w of body.widgets || []) {
    const p = w.properties || {};
    let inner;
    if (w.type === 'metric') {
      const metrics = widgetMetrics(p.metrics);
      inner = metrics.length
        ? graphPanel({ metrics, stat: p.stat || metrics[0].stat || 'Average', period: Math.max(p.period || 0, defaultPeriod(range)), range, compact: true, height: Math.max(120, (w.height || 6) * 30), title: p.title || metrics.map((m) => m.MetricName).join(', ') })
        : h('p', { class: 'empty' }, 'This widget has no plain metrics (expressions are not drawn yet).');
    } else if (w.type === 'text') {
      inner = h('div', { class: 'text-widget' }, p.markdown || '');
    } else {
      inner = h('p', { class: 'muted' }, `${w.type} widget (not drawn by the console)`);
    }
    const cell = h('div', { class: 'widget', 'data-type': w.type }, inner);
    // CSSOM, not a style attribute: allowed under the CSP.
    cell.style.gridColumn = `${(w.x ?? 0) + 1} / span ${Math.min(24, w.width || 6)}`;
    grid.appendChild(cell);
  }
  mount(h('nav', { class: 'crumbs' }, h('a', { href: '#/dashboards' }, 'Dashboards'), ' › ', name),
    h('h1', {}, name),
    h('div', { class: 'toolbar' }, h('span', { class: 'ranges', role: 'group', 'aria-label': 'Time range' },
      RANGES.map(([r, l]) => h('a', { class: 'button', 'aria-current': String(r === range), href: `${route('dashboards', name)}?range=${r}` }, l))),
      h('a', { class: 'button', href: `${route('dashboard-edit', name)}` }, 'Edit')),
    (body.widgets || []).length ? grid : h('p', { class: 'empty' }, 'This dashboard has no widgets.'));
}

export async function edit(name) {
  let body = JSON.stringify(TEMPLATE, null, 2);
  if (name !== undefined) {
    const d = await cw('GetDashboard', { DashboardName: name });
    try { body = JSON.stringify(JSON.parse(d.DashboardBody), null, 2); } catch { body = d.DashboardBody; }
  }
  const nameF = field('Name', h('input', { id: 'dashboard-name', value: name || '', readonly: name !== undefined }));
  const bodyF = field('Body (CloudWatch dashboard JSON)', h('textarea', { id: 'dashboard-body', rows: 18, class: 'code', spellcheck: 'false' }));
  bodyF.input.value = body;
  const msg = h('div', { 'aria-live': 'polite' });
  const form = h('form', { onsubmit: async (e) => {
    e.preventDefault();
    nameF.error(''); bodyF.error(''); clear(msg);
    const n = nameF.input.value.trim();
    try { JSON.parse(bodyF.input.value); } catch (err) { bodyF.error(`Not valid JSON: ${err.message}`); return; }
    try {
      const r = await cw('PutDashboard', { DashboardName: n, DashboardBody: bodyF.input.value });
      const warnings = r.DashboardValidationMessages || [];
      if (warnings.length) { bodyF.error(warnings.map((w) => `${w.DataPath}: ${w.Message}`).join('; ')); return; }
      location.hash = route('dashboards', n);
    } catch (err) {
      if (/DashboardName/.test(err.message)) nameF.error(err.message); else if (/DashboardBody/.test(err.message)) bodyF.error(err.message); else msg.appendChild(errorBox(err));
    }
  } }, nameF.wrap, bodyF.wrap, msg, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save'),
    name !== undefined ? h('button', { type: 'button', class: 'danger', onclick: async () => {
      if (!confirm(`Delete dashboard ${name}?`)) return;
      try { await cw('DeleteDashboards', { DashboardNames: [name] }); location.hash = '#/dashboards'; } catch (err) { msg.appendChild(errorBox(err)); }
    } }, 'Delete') : null));
  mount(h('nav', { class: 'crumbs' }, h('a', { href: '#/dashboards' }, 'Dashboards'), ' › ', name || 'new'), h('h1', {}, name ? `Edit ${name}` : 'Create dashboard'), form);
}
