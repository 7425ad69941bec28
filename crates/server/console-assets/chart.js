// Metric graphs: a panel of controls (statistic, period, range, auto-refresh,
// copy as CLI command) over a uPlot chart fed by GetMetricData. The chart
// container exposes what it drew for tests and scripts: data-points (x
// values), data-series-points (non-null values per series, JSON) and
// data-draw-ms (time to build the chart, Performance API).

import { h, clear, shellQuote, errorBox } from './dom.js';
import { cw, session } from './api.js';

export const STATS = ['Average', 'Sum', 'Minimum', 'Maximum', 'SampleCount', 'p50', 'p90', 'p99'];
export const PERIODS = [[10, '10 seconds'], [60, '1 minute'], [300, '5 minutes'], [900, '15 minutes'], [3600, '1 hour'], [86400, '1 day']];
export const RANGES = [[3600, '1h'], [3 * 3600, '3h'], [12 * 3600, '12h'], [86400, '1d'], [3 * 86400, '3d'], [7 * 86400, '1w']];
const COLORS = ['#1f6feb', '#d9480f', '#2b8a3e', '#9c36b5', '#e67700', '#0b7285', '#c2255c', '#5c940d'];

export function metricLabel(m) {
  const dims = (m.Dimensions || []).map((d) => d.Value).join(', ');
  return dims ? `${m.MetricName} (${dims})` : m.MetricName;
}

/// A sensible period for a range: at most ~1500 points per series.
export function defaultPeriod(range) {
  // Periods under a minute exist only for the last 3 hours (as in CloudWatch).
  for (const [p] of PERIODS) if (range / p <= 1500 && (p >= 60 || range < 3 * 3600)) return p;
  return 86400;
}

async function fetchSeries(metrics, stat, period, start, end) {
  const queries = metrics.map((m, i) => ({
    Id: `m${i}`,
    MetricStat: { Metric: { Namespace: m.Namespace, MetricName: m.MetricName, Dimensions: m.Dimensions || [] }, Period: period, Stat: stat },
    ReturnData: true,
  }));
  const byId = new Map();
  let token;
  for (let page = 0; page < 50; page++) {
    const params = { MetricDataQueries: queries, StartTime: Math.floor(start), EndTime: Math.ceil(end), ScanBy: 'TimestampAscending' };
    if (token) params.NextToken = token;
    const r = await cw('GetMetricData', params);
    for (const res of r.MetricDataResults || []) {
      const cur = byId.get(res.Id) || { ts: [], vs: [] };
      cur.ts.push(...(res.Timestamps || []));
      cur.vs.push(...(res.Values || []));
      byId.set(res.Id, cur);
    }
    token = r.NextToken;
    if (!token) break;
  }
  return metrics.map((_, i) => byId.get(`m${i}`) || { ts: [], vs: [] });
}

async function fetchUnit(m, period, start, end) {
  // GetMetricData carries no unit; one small GetMetricStatistics does.
  const span = Math.max(60, Math.ceil((end - start) / 60 / 60) * 60);
  try {
    const r = await cw('GetMetricStatistics', {
      Namespace: m.Namespace, MetricName: m.MetricName, Dimensions: m.Dimensions || [],
      StartTime: Math.floor(start), EndTime: Math.ceil(end), Period: Math.max(period, span), Statistics: ['SampleCount'],
    });
    const u = (r.Datapoints || []).map((d) => d.Unit).find((u) => u && u !== 'None');
    return u || '';
  } catch { return ''; }
}

/// Aligns series on one sorted x axis (union of timestamps).
export function align(series) {
  const same = series.every((s) => s.ts.length === series[0].ts.length && s.ts.every((t, i) => t === series[0].ts[i]));
  if (same) return [Float64Array.from(series[0]?.ts || []), ...series.map((s) => s.vs)];
  const xs = [...new Set(series.flatMap((s) => s.ts))].sort((a, b) => a - b);
  const idx = new Map(xs.map((x, i) => [x, i]));
  return [xs, ...series.map((s) => { const ys = new Array(xs.length).fill(null); s.ts.forEach((t, i) => { ys[idx.get(t)] = s.vs[i]; }); return ys; })];
}

/// Draws `data` into `el` (replacing any previous chart). `opts`: labels,
/// unit, threshold, range [start, end].
export function draw(el, data, opts) {
  const prev = el._chart;
  if (prev) prev.destroy();
  clear(el);
  delete el.dataset.points; // set by the draw hook once drawn
  delete el.dataset.drawMs;
  const width = Math.max(280, el.clientWidth || el.parentElement?.clientWidth || 800);
  const series = [{ label: 'Time' }, ...opts.labels.map((label, i) => ({
    label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false,
    points: { show: (data[0]?.length || 0) < 60 },
  }))];
  const unitLabel = opts.unit || '';
  const plugins = [];
  if (opts.bands && opts.bands.length) {
    // Alarm state bands behind the series (drawClear runs before them).
    const fills = { ALARM: 'rgba(201,42,42,0.12)', OK: 'rgba(43,138,62,0.07)', INSUFFICIENT_DATA: 'rgba(134,142,150,0.10)' };
    plugins.push({ hooks: { drawClear: [(u) => {
      const ctx = u.ctx;
      ctx.save();
      for (const b of opts.bands) {
        const x0 = Math.max(u.bbox.left, u.valToPos(b.from, 'x', true));
        const x1 = Math.min(u.bbox.left + u.bbox.width, u.valToPos(b.to, 'x', true));
        if (!(x1 > x0) || !fills[b.state]) continue;
        ctx.fillStyle = fills[b.state];
        ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
      }
      ctx.restore();
    }] } });
    el.dataset.bands = opts.bands.map((b) => b.state).join(',');
  }
  if (opts.threshold !== undefined && opts.threshold !== null && !isNaN(opts.threshold)) {
    plugins.push({ hooks: { draw: [(u) => {
      const y = u.valToPos(opts.threshold, 'y', true);
      if (!isFinite(y)) return;
      const ctx = u.ctx;
      ctx.save();
      ctx.strokeStyle = '#e03131';
      ctx.setLineDash([6, 4]);
      ctx.lineWidth = 1.5 * devicePixelRatio;
      ctx.beginPath();
      ctx.moveTo(u.bbox.left, y);
      ctx.lineTo(u.bbox.left + u.bbox.width, y);
      ctx.stroke();
      ctx.restore();
    }] } });
  }
  // uPlot commits its first draw in a microtask: the figure runs from here to
  // the end of that draw (its `draw` hook), not just the constructor.
  performance.mark('stratus-chart-start');
  let firstDraw = true;
  plugins.push({ hooks: { draw: [() => {
    if (!firstDraw) return;
    firstDraw = false;
    performance.mark('stratus-chart-end');
    const m = performance.measure('stratus-chart-draw', 'stratus-chart-start', 'stratus-chart-end');
    el.dataset.drawMs = m.duration.toFixed(1);
    if (opts.t0 !== undefined) el.dataset.loadMs = (performance.now() - opts.t0).toFixed(1);
    el.dataset.points = String(data[0]?.length || 0);
  }] } });
  const th = opts.threshold;
  const chart = new window.uPlot({
    width, height: opts.height || 300,
    series,
    plugins,
    scales: {
      x: opts.range ? { min: opts.range[0], max: opts.range[1] } : {},
      y: { range: (u, min, max) => {
        let lo = Math.min(min ?? 0, th ?? Infinity), hi = Math.max(max ?? 1, th ?? -Infinity);
        if (!isFinite(lo)) lo = 0; if (!isFinite(hi)) hi = 1;
        if (lo === hi) { lo -= 1; hi += 1; }
        const pad = (hi - lo) * 0.08;
        return [lo >= 0 && lo - pad < 0 ? 0 : lo - pad, hi + pad];
      } },
    },
    axes: [{}, { label: unitLabel, size: 60 }],
    cursor: { drag: { x: true, y: false } },
  }, data, el);
  el._chart = chart;
  el.dataset.seriesPoints = JSON.stringify(data.slice(1).map((s) => s.filter((v) => v !== null && v !== undefined).length));
  return chart;
}

export function cliCommand(metrics, stat, period, start, end) {
  const q = metrics.map((m, i) => ({
    Id: `m${i}`,
    MetricStat: { Metric: { Namespace: m.Namespace, MetricName: m.MetricName, Dimensions: m.Dimensions || [] }, Period: period, Stat: stat },
  }));
  const iso = (t) => new Date(t * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  const ep = session?.PublicUrl || location.origin;
  return `aws --endpoint-url ${shellQuote(ep)} --profile stratus cloudwatch get-metric-data ` +
    `--start-time ${iso(start)} --end-time ${iso(end)} --metric-data-queries ${shellQuote(JSON.stringify(q))}`;
}

function toLocalInput(t) {
  const d = new Date(t * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/// A graph with its controls. `o`: { metrics, stat, period, range, threshold,
/// bands: [{from, to, state}] (epoch s), height, compact (no controls), title,
/// onChange(settings) }.
export function graphPanel(o) {
  const st = { stat: o.stat || 'Average', range: o.range || 3 * 3600, custom: null, refresh: 0 };
  st.period = o.period || defaultPeriod(st.range);
  const chartEl = h('div', { class: 'chart', id: o.id || 'chart', 'aria-label': 'metric graph' });
  const status = h('p', { class: 'muted chart-status', 'aria-live': 'polite' });
  const statSel = h('select', { 'aria-label': 'Statistic', class: 'stat-select', onchange: () => { st.stat = statSel.value; load(); } },
    STATS.map((s) => h('option', { value: s, selected: s === st.stat }, s)));
  const periodSel = h('select', { 'aria-label': 'Period', class: 'period-select', onchange: () => { st.period = Number(periodSel.value); load(); } },
    PERIODS.map(([p, l]) => h('option', { value: p, selected: p === st.period }, l)));
  const rangeBtns = RANGES.map(([r, l]) => h('button', { type: 'button', class: 'range', 'data-range': r, 'aria-pressed': String(r === st.range), onclick: (ev) => {
    st.range = r; st.custom = null; st.period = Math.max(defaultPeriod(r), o.minPeriod || 0); periodSel.value = String(st.period);
    rangeBtns.forEach((b) => b.setAttribute('aria-pressed', String(b === ev.currentTarget))); load();
  } }, l));
  const from = h('input', { type: 'datetime-local', 'aria-label': 'From' });
  const to = h('input', { type: 'datetime-local', 'aria-label': 'To' });
  const customErr = h('span', { class: 'field-error', hidden: true });
  const applyCustom = h('button', { type: 'button', onclick: () => {
    const a = Date.parse(from.value) / 1000, b = Date.parse(to.value) / 1000;
    if (!(a < b)) { customErr.textContent = 'From must be before To.'; customErr.hidden = false; return; }
    customErr.hidden = true; st.custom = [a, b]; rangeBtns.forEach((x) => x.setAttribute('aria-pressed', 'false')); load();
  } }, 'Apply');
  let timer = null;
  const refreshSel = h('select', { 'aria-label': 'Auto-refresh', onchange: () => {
    clearInterval(timer); timer = null; st.refresh = Number(refreshSel.value);
    if (st.refresh) timer = setInterval(() => { if (!document.body.contains(chartEl)) { clearInterval(timer); return; } load(); }, st.refresh * 1000);
  } }, [[0, 'Auto-refresh off'], [10, 'Every 10 s'], [60, 'Every minute'], [300, 'Every 5 minutes']].map(([v, l]) => h('option', { value: v }, l)));
  const cliOut = h('pre', { class: 'cli', hidden: true });
  const copyBtn = h('button', { type: 'button', onclick: async () => {
    const [a, b] = window_();
    cliOut.textContent = cliCommand(o.metrics, st.stat, st.period, a, b);
    cliOut.hidden = false;
    try { await navigator.clipboard.writeText(cliOut.textContent); copyBtn.textContent = 'Copied'; } catch { copyBtn.textContent = 'Copy as CLI command'; }
  } }, 'Copy as CLI command');
  const window_ = () => {
    if (st.custom) return st.custom;
    const now = Date.now() / 1000;
    return [now - st.range, now];
  };
  let seq = 0;
  async function load() {
    const my = ++seq;
    if (!o.metrics.length) { clear(chartEl); status.textContent = 'Select metrics to graph.'; return; }
    const [a, b] = window_();
    if ((b - a) / st.period > 100800 / o.metrics.length) {
      status.textContent = 'Too many points for this range: choose a longer period.'; return;
    }
    status.textContent = 'Loading…';
    const t0 = performance.now();
    try {
      const [series, unit] = await Promise.all([fetchSeries(o.metrics, st.stat, st.period, a, b), fetchUnit(o.metrics[0], st.period, a, b)]);
      if (my !== seq) return;
      const data = align(series);
      draw(chartEl, data, { labels: o.metrics.map(metricLabel), unit, threshold: o.threshold, bands: o.bands, range: [a, b], height: o.height, t0 });
      const n = data[0].length;
      status.textContent = n ? `${n} points · ${st.stat} per ${PERIODS.find(([p]) => p === st.period)?.[1] || st.period + ' s'}${unit ? ' · ' + unit : ''} · drag to zoom, double-click to reset` : 'No data in this time range.';
      from.value = toLocalInput(a); to.value = toLocalInput(b);
      if (o.onChange) o.onChange({ ...st });
    } catch (e) {
      if (my !== seq) return;
      clear(chartEl); chartEl.appendChild(errorBox(e)); status.textContent = '';
    }
  }
  const el = h('section', { class: o.compact ? 'graph-panel compact' : 'graph-panel' }, o.title ? h('h3', {}, o.title) : null,
    h('div', { class: 'controls', hidden: !!o.compact }, statSel, periodSel, h('span', { class: 'ranges', role: 'group', 'aria-label': 'Time range' }, rangeBtns),
      h('span', { class: 'custom' }, from, to, applyCustom, customErr), refreshSel, copyBtn),
    chartEl, status, cliOut);
  el.reload = load;
  el.settings = st;
  queueMicrotask(load);
  return el;
}
