// CloudWatch dashboards: the list, one dashboard's widgets on the 24-column
// grid (metric graphs with math, single values and bars, alarm status lists,
// alarm graphs with their threshold, markdown text), a dashboard-wide range
// and auto-refresh, and creating/editing a body as JSON.

import { h, mount, route, errorBox, field, clear, stateBadge } from './dom.js';
import { cw, paginate } from './api.js';
import { RANGES, defaultPeriod, draw, align, metricLabel, runQueries } from './chart.js';
import { renderMarkdown } from './markdown.js';

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

// ---- widget queries -----------------------------------------------------

/// A metric widget's `metrics` rows as GetMetricData queries: metric rows
/// (with "." repeating the row above) and expression rows, each row's
/// trailing object giving id, label, stat, period and visible.
export function widgetQueries(rows, stat, period) {
  const out = [];
  let prev = [];
  (rows || []).forEach((row, i) => {
    if (!Array.isArray(row)) return;
    const opts = row.find((x) => x && typeof x === 'object' && !Array.isArray(x)) || {};
    const id = typeof opts.id === 'string' && /^[a-z][A-Za-z0-9_]*$/.test(opts.id) ? opts.id : `q_${i}`;
    const q = { Id: id, ReturnData: opts.visible !== false };
    if (opts.label) q.Label = String(opts.label);
    if (opts.expression) {
      q.Expression = String(opts.expression);
      if (opts.period) q.Period = Number(opts.period);
    } else {
      const parts = row.filter((x) => typeof x === 'string').map((x, k) => (x === '.' ? prev[k] : x));
      prev = parts;
      if (parts.length < 2) return;
      const dims = [];
      for (let k = 2; k + 1 < parts.length; k += 2) dims.push({ Name: parts[k], Value: parts[k + 1] });
      q.MetricStat = { Metric: { Namespace: parts[0], MetricName: parts[1], Dimensions: dims },
        Period: Number(opts.period) || period, Stat: opts.stat || stat };
      if (!q.Label) q.Label = metricLabel({ MetricName: parts[1], Dimensions: dims });
    }
    out.push(q);
  });
  return out;
}

/// The queries that graph an alarm's own metric (a plain metric or math).
function alarmQueries(a) {
  if (a.Metrics && a.Metrics.length) return a.Metrics.map((m) => ({ ...m, ReturnData: m.ReturnData !== false }));
  if (!a.MetricName) return [];
  return [{ Id: 'alarm_metric', Label: metricLabel(a), ReturnData: true,
    MetricStat: { Metric: { Namespace: a.Namespace, MetricName: a.MetricName, Dimensions: a.Dimensions || [] },
      Period: a.Period, Stat: a.ExtendedStatistic || a.Statistic || 'Average' } }];
}

const alarmName = (arn) => { const i = String(arn).indexOf(':alarm:'); return i >= 0 ? arn.slice(i + 7) : String(arn); };

async function describeAlarms(arns) {
  const names = [...new Set((arns || []).map(alarmName))];
  const found = new Map();
  for (let i = 0; i < names.length; i += 100) {
    const r = await cw('DescribeAlarms', { AlarmNames: names.slice(i, i + 100), AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] });
    for (const a of [...(r.MetricAlarms || []), ...(r.CompositeAlarms || [])]) found.set(a.AlarmName, a);
  }
  return names.map((n) => found.get(n) || { AlarmName: n, missing: true });
}

const fmtNum = (v) => (v === null || v === undefined || !isFinite(v) ? '–'
  : Math.abs(v) >= 1e6 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : String(Math.round(v * 1000) / 1000));
const latest = (s) => { for (let i = s.vs.length - 1; i >= 0; i--) if (s.vs[i] !== null && isFinite(s.vs[i])) return { t: s.ts[i], v: s.vs[i] }; return null; };

// ---- widget renderers -------------------------------------------------------
// Each returns an element with a `reload(start, end)` method.

function metricWidget(w, ctx) {
  const p = w.properties || {};
  const view = p.view || 'timeSeries';
  const own = (p.period && ctx.periodOverride === 'inherit') ? Number(p.period)
    : Math.max(Number(p.period) || 300, defaultPeriod(ctx.range));
  const stat = p.stat || 'Average';
  const chartEl = h('div', { class: 'chart', 'aria-label': 'metric graph' });
  const status = h('p', { class: 'muted chart-status', 'aria-live': 'polite' });
  const body = h('div', { class: 'widget-body' });
  const el = h('section', { class: 'graph-panel compact', 'data-view': view }, h('h3', {}, p.title || ''), body, status);
  let seq = 0;
  el.reload = async (start, end) => {
    const my = ++seq;
    status.textContent = 'Loading…';
    try {
      let queries = widgetQueries(p.metrics, stat, own);
      let threshold = (p.annotations?.horizontal || []).map((a) => Number(a?.value ?? a?.[0]?.value)).find((v) => isFinite(v));
      const annotated = p.annotations?.alarms || (p.alarm ? [p.alarm] : []);
      if (annotated.length) {
        const [a] = await describeAlarms(annotated.slice(0, 1));
        if (a && !a.missing) {
          threshold = a.Threshold;
          if (!queries.length) queries = alarmQueries(a);
          if (!p.title) el.querySelector('h3').textContent = a.AlarmName;
          el.dataset.alarm = a.AlarmName;
          el.dataset.threshold = String(a.Threshold);
        }
      }
      if (!queries.length) { clear(body); status.textContent = 'This widget has no metrics.'; return; }
      const series = await runQueries(queries, start, end);
      if (my !== seq) return;
      draw_(series, threshold, start, end);
    } catch (e) {
      if (my !== seq) return;
      clear(body); body.appendChild(errorBox(e)); status.textContent = '';
    }
  };
  function draw_(series, threshold, start, end) {
    clear(body);
    el.dataset.series = JSON.stringify(series.map((s) => ({ label: s.label, ts: s.ts, vs: s.vs })));
    const n = series.reduce((k, s) => k + s.ts.length, 0);
    if (view === 'singleValue') {
      body.appendChild(h('div', { class: 'single-values' }, series.map((s) => {
        const l = latest(s);
        const big = h('div', { class: 'single-value', 'data-value': l ? String(l.v) : '' }, l ? fmtNum(l.v) : '–');
        big.style.fontSize = '32px'; big.style.fontWeight = '600';
        return h('div', { class: 'single-value-item' }, big, h('div', { class: 'muted single-label' }, s.label));
      })));
      status.textContent = n ? 'Latest value of each series in the range.' : 'No data in this time range.';
      return;
    }
    if (view === 'bar' || view === 'pie' || view === 'gauge') {
      // Simplified: pie and gauge are drawn as bars of each series' latest value.
      const vals = series.map((s) => latest(s)?.v ?? null);
      const max = Math.max(1e-12, ...vals.filter((v) => v !== null).map(Math.abs));
      body.appendChild(h('div', { class: 'bars', role: 'list' }, series.map((s, i) => {
        const bar = h('div', { class: 'bar' });
        bar.style.height = '14px'; bar.style.background = '#1f6feb'; bar.style.borderRadius = '3px';
        bar.style.width = `${vals[i] === null ? 0 : (Math.abs(vals[i]) / max) * 100}%`;
        return h('div', { class: 'bar-row', role: 'listitem', 'data-value': vals[i] === null ? '' : String(vals[i]) },
          h('div', { class: 'bar-label' }, `${s.label}: ${fmtNum(vals[i])}`), bar);
      })));
      status.textContent = view === 'bar' ? 'Latest value of each series.' : `Latest value of each series (${view} drawn as bars).`;
      return;
    }
    // timeSeries; stacked: each series drawn on top of the ones before
    // (as stacked lines: the chart module draws lines, not filled areas).
    let plot = series;
    if (p.stacked) {
      const aligned = align(series);
      const acc = new Array(aligned[0].length).fill(0);
      plot = series.map((s, k) => {
        const ys = aligned[k + 1].map((v, j) => (v === null || v === undefined ? null : (acc[j] += v)));
        return { label: s.label, ts: Array.from(aligned[0]), vs: ys };
      });
    }
    body.appendChild(chartEl);
    const data = plot.length ? align(plot) : [[]];
    draw(chartEl, data, { labels: plot.map((s) => s.label), threshold, range: [start, end], height: Math.max(120, (w.height || 6) * 30 - 70) });
    chartEl.dataset.seriesLabels = JSON.stringify(plot.map((s) => s.label));
    chartEl.dataset.seriesValues = JSON.stringify(data.slice(1).map((ys) => Array.from(ys)));
    status.textContent = n ? `${data[0].length} points${p.stacked ? ' · stacked' : ''}${threshold !== undefined ? ` · threshold ${threshold}` : ''}` : 'No data in this time range.';
  }
  return el;
}

function alarmWidget(w) {
  const p = w.properties || {};
  const list = h('div', { class: 'alarm-list' });
  const el = h('section', { class: 'graph-panel compact' }, h('h3', {}, p.title || 'Alarms'), list);
  el.reload = async () => {
    try {
      let alarms = await describeAlarms(p.alarms);
      if (Array.isArray(p.states) && p.states.length) alarms = alarms.filter((a) => p.states.includes(a.StateValue));
      const rank = { ALARM: 0, INSUFFICIENT_DATA: 1, OK: 2 };
      if (p.sortBy === 'stateUpdatedTimestamp') alarms.sort((a, b) => String(b.StateUpdatedTimestamp ?? '').localeCompare(String(a.StateUpdatedTimestamp ?? '')));
      else if (p.sortBy === 'default' || !p.sortBy) alarms.sort((a, b) => (rank[a.StateValue] ?? 3) - (rank[b.StateValue] ?? 3));
      clear(list);
      list.appendChild(alarms.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'alarm-status' }, h('thead', {}, h('tr', {}, h('th', {}, 'Alarm'), h('th', {}, 'State'), h('th', {}, 'Reason'))),
        h('tbody', {}, alarms.map((a) => {
          const name = h('td', { class: 'alarm-name' }, a.missing ? a.AlarmName : h('a', { href: route('alarms', a.AlarmName) }, a.AlarmName));
          const state = h('td', {}, a.missing ? h('span', { class: 'muted' }, 'not found') : stateBadge(a.StateValue));
          // Narrow widgets: break names at word ends only, never the badge.
          const reason = h('td', { class: 'reason' }, a.StateReason || '');
          name.style.overflowWrap = 'break-word'; state.style.whiteSpace = 'nowrap';
          reason.style.fontSize = '13px'; reason.style.minWidth = '16ch';
          return h('tr', { 'data-alarm': a.AlarmName }, name, state, reason);
        }))))
        : h('p', { class: 'empty' }, 'No alarms.'));
    } catch (e) { clear(list); list.appendChild(errorBox(e)); }
  };
  return el;
}

function textWidget(w) {
  const el = h('div', { class: 'text-widget markdown' }, renderMarkdown((w.properties || {}).markdown || ''));
  el.style.whiteSpace = 'normal'; // the stylesheet's pre-wrap is for raw text
  el.reload = () => {};
  return el;
}

/// "-PT6H", "-P7D", "-PT30M" → seconds (relative dashboard start), else 0.
function isoDuration(s) {
  const m = /^-?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(String(s || ''));
  if (!m) return 0;
  const [, wk, d, hr, mi, se] = m.map((x) => Number(x) || 0);
  return wk * 604800 + d * 86400 + hr * 3600 + mi * 60 + se;
}

export async function view(name, params) {
  mount(h('h1', {}, name), h('p', { class: 'muted' }, 'Loading…'));
  const d = await cw('GetDashboard', { DashboardName: name });
  let body = {};
  try { body = JSON.parse(d.DashboardBody || '{}'); } catch { body = { widgets: [] }; }
  const range = Number(params.get('range')) || isoDuration(body.start) || 3 * 3600;
  const refresh = Number(params.get('refresh')) || 0;
  const ctx = { range, periodOverride: body.periodOverride };
  const grid = h('div', { class: 'dash-grid', id: 'dashboard-grid' });
  const widgets = [];
  for (const w of body.widgets || []) {
    let inner;
    if (w.type === 'metric') inner = metricWidget(w, ctx);
    else if (w.type === 'alarm') inner = alarmWidget(w);
    else if (w.type === 'text') inner = textWidget(w);
    else inner = h('p', { class: 'muted' }, `${w.type} widget (not drawn by the console)`);
    if (inner.reload) widgets.push(inner);
    const cell = h('div', { class: 'widget', 'data-type': w.type }, inner);
    // CSSOM, not a style attribute: allowed under the CSP.
    cell.style.gridColumn = `${(w.x ?? 0) + 1} / span ${Math.min(24, w.width || 6)}`;
    grid.appendChild(cell);
  }
  const reloadAll = () => {
    const end = Date.now() / 1000;
    grid.dataset.loadedAt = String(end);
    return Promise.all(widgets.map((x) => x.reload(end - range, end)));
  };
  const link = (r, f) => `${route('dashboards', name)}?range=${r}${f ? `&refresh=${f}` : ''}`;
  const refreshSel = h('select', { 'aria-label': 'Auto-refresh', id: 'dashboard-refresh', onchange: () => { location.hash = link(range, Number(refreshSel.value)); } },
    [[0, 'Auto-refresh off'], [10, 'Every 10 s'], [60, 'Every minute'], [300, 'Every 5 minutes']].map(([v, l]) => h('option', { value: v, selected: v === refresh }, l)));
  mount(h('nav', { class: 'crumbs' }, h('a', { href: '#/dashboards' }, 'Dashboards'), ' › ', name),
    h('h1', {}, name),
    h('div', { class: 'toolbar' }, h('span', { class: 'ranges', role: 'group', 'aria-label': 'Time range' },
      RANGES.map(([r, l]) => h('a', { class: 'button', 'aria-current': String(r === range), href: link(r, refresh) }, l))),
      h('button', { type: 'button', id: 'dashboard-reload', onclick: reloadAll }, 'Refresh'), refreshSel,
      h('a', { class: 'button', href: `${route('dashboard-edit', name)}` }, 'Edit')),
    (body.widgets || []).length ? grid : h('p', { class: 'empty' }, 'This dashboard has no widgets.'));
  queueMicrotask(reloadAll);
  if (refresh) {
    const timer = setInterval(() => { if (!document.body.contains(grid)) { clearInterval(timer); return; } reloadAll(); }, refresh * 1000);
  }
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
