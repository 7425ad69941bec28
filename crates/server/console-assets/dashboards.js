// CloudWatch dashboards: the list, one dashboard's widgets on the 24-column
// grid (metric graphs with math, single values and bars, alarm status lists,
// alarm graphs with their threshold, markdown text), a dashboard-wide range
// and auto-refresh, and creating/editing a body as JSON.

import { h, mount, route, errorBox, field, clear, stateBadge } from './dom.js';
import { cw, paginate, session } from './api.js';
import { RANGES, PERIODS, STATS, seriesColor, defaultPeriod, draw, align, metricLabel, runQueries } from './chart.js';
import { placeAll, applyCell, editable, ROW } from './dashgrid.js';
import { renderMarkdown } from './markdown.js';

// The dashboard styles travel with this module: one <link> the first time it loads.
if (!document.querySelector('link[data-dashboards-css]')) {
  document.head.appendChild(h('link', { rel: 'stylesheet', href: '/console/assets/dashboards.css', 'data-dashboards-css': '' }));
}

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
  // The dashboard's period override (ctx.period) wins; else the body's
  // periodOverride: "inherit" keeps the widget's period, "auto" fits it to the range.
  const own = ctx.period || ((p.period && ctx.periodOverride === 'inherit') ? Number(p.period)
    : Math.max(Number(p.period) || 300, defaultPeriod(ctx.range)));
  const stat = p.stat || 'Average';
  const chartEl = h('div', { class: 'chart', 'aria-label': 'metric graph' });
  const status = h('p', { class: 'muted chart-status', 'aria-live': 'polite' });
  const body = h('div', { class: 'widget-body' });
  const el = h('section', { class: 'graph-panel compact', 'data-view': view, 'data-period': own }, h('h3', {}, p.title || ''), body, status);
  let seq = 0;
  el.reload = async (start, end) => {
    const my = ++seq;
    status.textContent = 'Loading…';
    try {
      let queries = widgetQueries(p.metrics, stat, own);
      if (ctx.period) for (const q of queries) { if (q.MetricStat) q.MetricStat.Period = ctx.period; else if (q.Period) q.Period = ctx.period; }
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
    if (view === 'gauge') {
      const yl = p.yAxis?.left || {};
      const min = isFinite(yl.min) ? Number(yl.min) : 0, max = isFinite(yl.max) && Number(yl.max) > min ? Number(yl.max) : 100;
      body.appendChild(h('div', { class: 'gauges' }, series.map((s, i) => gauge(latest(s)?.v ?? null, min, max, s.label, seriesColor(i, s.label)))));
      status.textContent = n ? `Latest value of each series, on ${min}–${max}.` : 'No data in this time range.';
      return;
    }
    if (view === 'bar' || view === 'pie') {
      // Simplified: pie is drawn as bars of each series' latest value.
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
    // timeSeries; stacked: each series drawn on top of the ones before, the
    // area between it and the one below filled (chart.js's `stacked`).
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
    // The cell's rows as laid out now (an edit may have resized it), less room for title, legend, status.
    const cell = el.closest('.widget');
    const rows = Number(cell?.dataset.h) || w.height || 6;
    if (cell) cell.dataset.drawnH = String(rows);
    draw(chartEl, data, { labels: plot.map((s) => s.label), threshold, range: [start, end], stacked: !!p.stacked, height: Math.max(100, rows * ROW - 150) });
    chartEl.dataset.seriesLabels = JSON.stringify(plot.map((s) => s.label));
    chartEl.dataset.seriesValues = JSON.stringify(data.slice(1).map((ys) => Array.from(ys)));
    status.textContent = n ? `${data[0].length} points${p.stacked ? ' · stacked' : ''}${threshold !== undefined ? ` · threshold ${threshold}` : ''}` : 'No data in this time range.';
  }
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';
const svg = (tag, attrs) => { const e = document.createElementNS(SVG, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v)); return e; };

/// A half-circle gauge of `v` on [min, max] (SVG arc), its value and label as text.
function gauge(v, min, max, label, color) {
  const f = v === null ? 0 : Math.min(1, Math.max(0, (v - min) / (max - min)));
  const arc = (to) => { const a = Math.PI * (1 - to); return `M 10 100 A 90 90 0 0 1 ${(100 + 90 * Math.cos(a)).toFixed(2)} ${(100 - 90 * Math.sin(a)).toFixed(2)}`; };
  const s = svg('svg', { viewBox: '0 0 200 112', role: 'img', 'aria-label': `${label}: ${fmtNum(v)}` });
  s.appendChild(svg('path', { d: arc(1), class: 'gauge-track', fill: 'none', 'stroke-width': 16 }));
  if (f > 0) s.appendChild(svg('path', { d: arc(f), class: 'gauge-value', fill: 'none', stroke: color, 'stroke-width': 16 }));
  const t = svg('text', { x: 100, y: 96 }); t.textContent = fmtNum(v); s.appendChild(t);
  return h('div', { class: 'gauge', 'data-value': v === null ? '' : String(v), 'data-min': min, 'data-max': max, 'data-fraction': f.toFixed(4) },
    s, h('div', { class: 'muted single-label' }, label));
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

function makeCell(w, ctx) {
  let inner;
  if (w.type === 'metric') inner = metricWidget(w, ctx);
  else if (w.type === 'alarm') inner = alarmWidget(w);
  else if (w.type === 'text') inner = textWidget(w);
  else inner = h('p', { class: 'muted' }, `${w.type} widget (not drawn by the console)`);
  // A region keyboard users can reach and scroll: a widget's content may overflow its cell.
  const title = (w.properties && typeof w.properties.title === 'string' && w.properties.title) || `${w.type} widget`;
  const cell = h('div', { class: 'widget', 'data-type': w.type, role: 'region', 'aria-label': title, tabindex: '0' }, inner);
  cell.reload = inner.reload;
  return cell;
}

export async function view(name, params) {
  mount(h('h1', {}, name), h('p', { class: 'muted' }, 'Loading…'));
  const d = await cw('GetDashboard', { DashboardName: name });
  let body = {};
  try { body = JSON.parse(d.DashboardBody || '{}'); } catch { body = { widgets: [] }; }
  if (!body || typeof body !== 'object' || Array.isArray(body)) body = {};
  const range = Number(params.get('range')) || isoDuration(body.start) || 3 * 3600;
  const refresh = Number(params.get('refresh')) || 0;
  const period = Number(params.get('period')) || 0;
  const ctx = { range, periodOverride: body.periodOverride, period };
  const grid = h('div', { class: 'dash-grid', id: 'dashboard-grid' });
  const state = { widgets: [...(body.widgets || [])], cells: [], layout: placeAll(body.widgets || []) };
  state.widgets.forEach((w, i) => { const c = makeCell(w, ctx); applyCell(c, state.layout[i]); state.cells.push(c); grid.appendChild(c); });
  const reloadAll = () => {
    const end = Date.now() / 1000;
    grid.dataset.loadedAt = String(end);
    return Promise.all(state.cells.filter((c) => c.reload).map((c) => c.reload(end - range, end)));
  };
  const link = (r, f, p) => `${route('dashboards', name)}?range=${r}${f ? `&refresh=${f}` : ''}${p ? `&period=${p}` : ''}`;
  const refreshSel = h('select', { 'aria-label': 'Auto-refresh', id: 'dashboard-refresh', onchange: () => { location.hash = link(range, Number(refreshSel.value), period); } },
    [[0, 'Auto-refresh off'], [10, 'Every 10 s'], [60, 'Every minute'], [300, 'Every 5 minutes']].map(([v, l]) => h('option', { value: v, selected: v === refresh }, l)));
  // CloudWatch's period override: one period for every graph, or (0) the body's own rule.
  const periodSel = h('select', { 'aria-label': 'Period override', id: 'dashboard-period', onchange: () => { location.hash = link(range, refresh, Number(periodSel.value)); } },
    [[0, body.periodOverride === 'inherit' ? "Period: each widget's" : 'Period: auto'], ...PERIODS.map(([v, l]) => [v, `Period: ${l}`])]
      .map(([v, l]) => h('option', { value: v, selected: v === period }, l)));
  const editBtn = h('button', { type: 'button', id: 'dashboard-edit-layout', onclick: () => startEditing() }, 'Edit layout');
  const editBar = h('div', { class: 'actions', id: 'dashboard-edit-bar', hidden: true });
  const addPanel = h('div', { id: 'dashboard-add' });
  const msg = h('div', { 'aria-live': 'polite' });
  mount(h('nav', { class: 'crumbs' }, h('a', { href: '#/dashboards' }, 'Dashboards'), ' › ', name),
    h('h1', {}, name),
    h('div', { class: 'toolbar' }, h('span', { class: 'ranges', role: 'group', 'aria-label': 'Time range' },
      RANGES.map(([r, l]) => h('a', { class: 'button', 'aria-current': String(r === range), href: link(r, refresh, period) }, l))),
      periodSel, h('button', { type: 'button', id: 'dashboard-reload', onclick: reloadAll }, 'Refresh'), refreshSel, editBtn,
      h('a', { class: 'button', href: `${route('dashboard-edit', name)}` }, 'Edit JSON')),
    editBar, addPanel, msg,
    state.widgets.length ? grid : h('p', { class: 'empty', id: 'dashboard-empty' }, 'This dashboard has no widgets.'));
  queueMicrotask(reloadAll);
  if (refresh) {
    const timer = setInterval(() => { if (!document.body.contains(grid) || grid.classList.contains('editing')) { if (!document.body.contains(grid)) clearInterval(timer); return; } reloadAll(); }, refresh * 1000);
  }

  function decorate(cell) {
    cell.tabIndex = 0;
    cell.setAttribute('aria-label', 'Widget: arrows move, shift+arrows resize');
    cell.prepend(h('div', { class: 'widget-move', title: 'Drag to move' }, '⠿ Move'));
    cell.appendChild(h('div', { class: 'widget-resize', title: 'Drag to resize' }));
  }
  function startEditing() {
    if (grid.classList.contains('editing')) return;
    if (!grid.isConnected) document.getElementById('dashboard-empty')?.replaceWith(grid);
    grid.classList.add('editing');
    editBtn.hidden = true;
    state.cells.forEach(decorate);
    // A resized graph redraws at its new height once the drag settles.
    let settle = 0;
    editable(grid, state, () => {
      grid.dataset.layout = JSON.stringify(state.layout);
      clearTimeout(settle);
      settle = setTimeout(() => {
        const end = Date.now() / 1000;
        state.cells.forEach((c, i) => { if (c.reload && c.dataset.drawnH && c.dataset.drawnH !== String(state.layout[i].h)) c.reload(end - range, end); });
      }, 250);
    });
    clear(editBar).hidden = false;
    editBar.append(
      h('button', { type: 'button', class: 'primary', id: 'dashboard-save-layout', onclick: save }, 'Save'),
      h('button', { type: 'button', id: 'dashboard-cancel-layout', onclick: () => view(name, params) }, 'Cancel'),
      h('button', { type: 'button', id: 'dashboard-add-widget', onclick: () => addWidgetForm(addPanel, add) }, 'Add widget'));
  }
  function add(w) {
    const bottom = state.layout.reduce((m, c) => Math.max(m, c.y + c.h), 0);
    const cell = makeCell(w, ctx);
    const c = { x: 0, y: bottom, w: w.width, h: w.height };
    state.widgets.push(w); state.cells.push(cell); state.layout.push(c);
    applyCell(cell, c); decorate(cell); grid.appendChild(cell);
    const end = Date.now() / 1000;
    cell.reload?.(end - range, end);
  }
  async function save() {
    clear(msg);
    // Only the cells change: every other property of every widget, and the body's other fields, as they were.
    const widgets = state.widgets.map((w, i) => ({ ...w, x: state.layout[i].x, y: state.layout[i].y, width: state.layout[i].w, height: state.layout[i].h }));
    try {
      const r = await cw('PutDashboard', { DashboardName: name, DashboardBody: JSON.stringify({ ...body, widgets }) });
      const warnings = r.DashboardValidationMessages || [];
      if (warnings.length) { msg.appendChild(errorBox(warnings.map((w) => `${w.DataPath}: ${w.Message}`).join('; '))); return; }
      await view(name, params);
    } catch (err) { msg.appendChild(errorBox(err)); }
  }
}

/// The "Add widget" form: text (markdown with a preview), alarm status
/// (alarms from DescribeAlarms) or metric (ListMetrics search, stat, view).
function addWidgetForm(panel, add) {
  const type = h('select', { id: 'add-widget-type', 'aria-label': 'Widget type' },
    [['text', 'Text'], ['alarm', 'Alarm status'], ['metric', 'Metric graph']].map(([v, l]) => h('option', { value: v }, l)));
  const slot = h('div', {});
  const err = h('div', { 'aria-live': 'polite' });
  let build = () => null;
  const close = () => clear(panel);
  const show = () => {
    clear(slot); clear(err);
    if (type.value === 'text') {
      const ta = h('textarea', { id: 'add-widget-markdown', rows: 5, class: 'code', 'aria-label': 'Markdown' });
      const preview = h('div', { class: 'preview markdown', id: 'add-widget-preview' });
      ta.addEventListener('input', () => { clear(preview).appendChild(renderMarkdown(ta.value)); });
      slot.append(ta, h('p', { class: 'hint' }, 'Preview'), preview);
      build = () => ({ type: 'text', width: 6, height: 6, properties: { markdown: ta.value } });
    } else if (type.value === 'alarm') {
      const picker = h('div', { class: 'picker', id: 'add-widget-alarms' }, h('p', { class: 'muted' }, 'Loading alarms…'));
      const title = h('input', { id: 'add-widget-title', value: 'Alarms', 'aria-label': 'Title' });
      slot.append(title, picker);
      Promise.all([
        paginate(cw, 'DescribeAlarms', {}, 'MetricAlarms', 10),
        paginate(cw, 'DescribeAlarms', { AlarmTypes: ['CompositeAlarm'] }, 'CompositeAlarms', 10),
      ]).then(([m, c]) => m.concat(c)).then((alarms) => {
        clear(picker);
        if (!alarms.length) picker.appendChild(h('p', { class: 'empty' }, 'No alarms.'));
        for (const a of alarms) picker.appendChild(h('label', {}, h('input', { type: 'checkbox', value: a.AlarmArn }), ' ', a.AlarmName));
      }, (e) => { clear(picker).appendChild(errorBox(e)); });
      build = () => {
        const arns = [...picker.querySelectorAll('input:checked')].map((c) => c.value);
        return arns.length ? { type: 'alarm', width: 6, height: 6, properties: { title: title.value, alarms: arns } } : null;
      };
    } else {
      const search = h('input', { type: 'search', id: 'add-widget-search', placeholder: 'Search metrics', 'aria-label': 'Search metrics' });
      const picker = h('div', { class: 'picker', id: 'add-widget-metrics' });
      const stat = h('select', { id: 'add-widget-stat', 'aria-label': 'Statistic' }, STATS.map((s) => h('option', { value: s }, s)));
      const viewSel = h('select', { id: 'add-widget-view', 'aria-label': 'View' },
        [['timeSeries', 'Line'], ['stacked', 'Stacked area'], ['singleValue', 'Number'], ['bar', 'Bar'], ['gauge', 'Gauge']].map(([v, l]) => h('option', { value: v }, l)));
      slot.append(search, picker, h('div', { class: 'actions' }, stat, viewSel));
      let all = null;
      const chosen = new Map();
      const key = (m) => JSON.stringify([m.Namespace, m.MetricName, ...(m.Dimensions || []).flatMap((x) => [x.Name, x.Value])]);
      const list = async () => {
        all = all || await paginate(cw, 'ListMetrics', {}, 'Metrics', 10);
        const q = search.value.trim().toLowerCase();
        clear(picker);
        const hits = all.filter((m) => !q || key(m).toLowerCase().includes(q)).slice(0, 50);
        for (const m of hits) {
          const k = key(m);
          picker.appendChild(h('label', {}, h('input', { type: 'checkbox', value: k, checked: chosen.has(k),
            onchange: (e) => { if (e.target.checked) chosen.set(k, m); else chosen.delete(k); } }), ' ', `${m.Namespace} · ${metricLabel(m)}`));
        }
        if (!hits.length) picker.appendChild(h('p', { class: 'empty' }, 'No metrics match.'));
      };
      search.addEventListener('input', () => { list().catch((e) => clear(picker).appendChild(errorBox(e))); });
      list().catch((e) => clear(picker).appendChild(errorBox(e)));
      build = () => {
        if (!chosen.size) return null;
        const rows = [...chosen.values()].map((m) => [m.Namespace, m.MetricName, ...(m.Dimensions || []).flatMap((x) => [x.Name, x.Value])]);
        const v = viewSel.value;
        const props = { metrics: rows, stat: stat.value, period: 300, view: v === 'stacked' ? 'timeSeries' : v, region: session?.Region || 'us-east-1' };
        if (v === 'stacked') props.stacked = true;
        return { type: 'metric', width: 12, height: 6, properties: props };
      };
    }
  };
  type.addEventListener('change', show);
  clear(panel).appendChild(h('div', { class: 'add-widget' }, h('label', { for: 'add-widget-type' }, 'Add a widget: '), type, slot, err,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'primary', id: 'add-widget-confirm', onclick: () => {
        const w = build();
        if (!w) { clear(err).appendChild(h('p', { class: 'field-error' }, 'Pick at least one item.')); return; }
        add(w); close();
      } }, 'Add'),
      h('button', { type: 'button', onclick: close }, 'Close'))));
  show();
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
