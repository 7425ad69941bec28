// Metric graphs: a panel of controls (statistic, period, range, auto-refresh,
// copy as CLI command) over a uPlot chart fed by GetMetricData. The chart
// container exposes what it drew for tests and scripts: data-points (x
// values), data-series-points (non-null values per series, JSON) and
// data-draw-ms (time to build the chart, Performance API).

import { h, clear, shellQuote, errorBox } from './dom.js';
import { cw, session } from './api.js';
import { toInputValue, fromInputValue, zoneLabel } from './time.js';
import { unitInfo, inferUnit, fmtValue, axisValues, axisIncrs, fmtTs, useUtc, TIME_FORMATS } from './units.js';
import { attachTable } from './charttable.js';

export const STATS = ['Average', 'Sum', 'Minimum', 'Maximum', 'SampleCount', 'p50', 'p90', 'p99'];
export const PERIODS = [[10, '10 seconds'], [60, '1 minute'], [300, '5 minutes'], [900, '15 minutes'], [3600, '1 hour'], [86400, '1 day']];
export const RANGES = [[3600, '1h'], [3 * 3600, '3h'], [12 * 3600, '12h'], [86400, '1d'], [3 * 86400, '3d'], [7 * 86400, '1w']];

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

/// Runs the queries (following NextToken); returns the returned series in
/// query order: { id, label, ts, vs } with ascending timestamps.
export async function runQueries(queries, start, end) {
  // One Id may return several results (ANOMALY_DETECTION_BAND: "<label> Low"
  // and "<label> High"), told apart by their labels.
  const byId = new Map();
  let token;
  for (let page = 0; page < 50; page++) {
    const params = { MetricDataQueries: queries, StartTime: Math.floor(start), EndTime: Math.ceil(end), ScanBy: 'TimestampAscending' };
    if (token) params.NextToken = token;
    const r = await cw('GetMetricData', params);
    for (const res of r.MetricDataResults || []) {
      const group = byId.get(res.Id) || new Map();
      const key = res.Label ?? '';
      const cur = group.get(key) || { id: res.Id, label: res.Label, ts: [], vs: [] };
      cur.ts.push(...(res.Timestamps || []));
      cur.vs.push(...(res.Values || []));
      group.set(key, cur);
      byId.set(res.Id, group);
    }
    token = r.NextToken;
    if (!token) break;
  }
  return queries.filter((q) => q.ReturnData !== false).flatMap((q) => {
    const found = [...(byId.get(q.Id)?.values() || [])];
    const list = found.length ? found : [{ id: q.Id, ts: [], vs: [] }];
    return list.map((s) => {
      const order = s.ts.map((t, i) => i).sort((x, y) => s.ts[x] - s.ts[y]);
      const label = list.length > 1 ? s.label : q.Label || s.label || q.Expression || q.Id;
      return { id: q.Id, label, ts: order.map((i) => s.ts[i]), vs: order.map((i) => s.vs[i]) };
    });
  });
}

function metricQueries(metrics, stat, period) {
  return metrics.map((m, i) => ({
    Id: `m${i + 1}`,
    MetricStat: { Metric: { Namespace: m.Namespace, MetricName: m.MetricName, Dimensions: m.Dimensions || [] }, Period: period, Stat: stat },
    ReturnData: true,
  }));
}

// A Metrics Insights query (SELECT …) needs its own Period; math takes its metrics'.
const INSIGHTS = /^\s*SELECT\b/i;

function exprQueries(exprs, period) {
  // A grouped query's series are named after their groups when it has no Label.
  return exprs.map((x, i) => ({ Id: `e${i + 1}`, Expression: x.expr, Label: x.label || (INSIGHTS.test(x.expr) ? undefined : x.expr), ReturnData: true,
    ...(period && INSIGHTS.test(x.expr) ? { Period: period } : {}) }));
}

/// The metrics (ids m1..mN) and math expressions (e1..) in one GetMetricData.
/// A bad expression fails the whole request: then each expression is tried on
/// its own, so the good ones still draw and the bad ones get their message.
async function fetchSeries(metrics, exprs, stat, period, start, end) {
  const mq = metricQueries(metrics, stat, period), eq = exprQueries(exprs, period);
  const errors = {};
  try { return { series: await runQueries([...mq, ...eq], start, end), errors }; } catch (e) { if (!eq.length) throw e; }
  const good = [];
  for (const q of eq) {
    try { await runQueries([...mq.map((m) => ({ ...m, ReturnData: false })), q], start, end); good.push(q); } catch (e) { errors[q.Id] = e.message || String(e); }
  }
  return { series: await runQueries([...mq, ...good], start, end), errors };
}

// A metric's unit: the caller's (m.Unit), else what a datapoint says (one
// small GetMetricStatistics: neither ListMetrics nor GetMetricData carries
// units), else a guess from the name. Remembered for the page's life.
const unitCache = new Map();
async function fetchUnit(m, period, start, end) {
  if (m.Unit) return m.Unit;
  const key = JSON.stringify([m.Namespace, m.MetricName, m.Dimensions || []]);
  if (unitCache.has(key)) return unitCache.get(key);
  const span = Math.max(60, Math.ceil((end - start) / 60 / 60) * 60);
  let u = '';
  try {
    const r = await cw('GetMetricStatistics', {
      Namespace: m.Namespace, MetricName: m.MetricName, Dimensions: m.Dimensions || [],
      StartTime: Math.floor(start), EndTime: Math.ceil(end), Period: Math.max(period, span), Statistics: ['SampleCount'],
    });
    const dps = r.Datapoints || [];
    u = dps.map((d) => d.Unit).find((x) => x && x !== 'None') || '';
    if (dps.length) unitCache.set(key, u);
  } catch { /* fall back to the name */ }
  return u || inferUnit(m.MetricName);
}

/// Aligns series on one sorted x axis (union of timestamps).
export function align(series) {
  const same = series.every((s) => s.ts.length === series[0].ts.length && s.ts.every((t, i) => t === series[0].ts[i]));
  if (same) return [Float64Array.from(series[0]?.ts || []), ...series.map((s) => s.vs)];
  const xs = [...new Set(series.flatMap((s) => s.ts))].sort((a, b) => a - b);
  const idx = new Map(xs.map((x, i) => [x, i]));
  return [xs, ...series.map((s) => { const ys = new Array(xs.length).fill(null); s.ts.forEach((t, i) => { ys[idx.get(t)] = s.vs[i]; }); return ys; })];
}

// 20 colours told apart at a glance, each ≥ 3:1 against white; series beyond
// them take a colour hashed from their label (the same on every reload).
export const PALETTE = ['#1f6feb', '#d9480f', '#2b8a3e', '#9c36b5', '#0f9abd', '#f00078', '#a38300', '#212529', '#de123b', '#166959',
  '#694816', '#0048f0', '#00a300', '#800059', '#162769', '#f000f0', '#760a1f', '#128cde', '#000080', '#0000f0'];

// The same 20 in the same order, lightened to ≥ 3:1 against the dark theme's card.
export const DARK_PALETTE = ['#58a6ff', '#ff8c42', '#3fb950', '#d2a8ff', '#39c5cf', '#ff7eb6', '#e3b341', '#e6edf3', '#ff6b6b', '#56d4bc',
  '#c9a26b', '#79a8ff', '#7ee787', '#f778ba', '#a5b4fc', '#ff9bff', '#ffa198', '#6cb6ff', '#b0b8ff', '#8fb8ff'];

const darkTheme = () => !!window.matchMedia?.('(prefers-color-scheme: dark)').matches;

export function seriesColor(i, label) {
  const dark = darkTheme();
  if (i < PALETTE.length) return (dark ? DARK_PALETTE : PALETTE)[i];
  let x = 2166136261;
  for (const c of String(label)) x = Math.imul(x ^ c.codePointAt(0), 16777619) >>> 0;
  return `hsl(${x % 360}, ${65 + (x >>> 9) % 25}%, ${(dark ? 62 : 28) + (x >>> 17) % 10}%)`;
}

// The chart's styles travel with it: one <link> the first time this module loads.
if (!document.querySelector('link[data-chart-css]')) {
  document.head.appendChild(h('link', { rel: 'stylesheet', href: '/console/assets/chart.css', 'data-chart-css': '' }));
}

/// A uPlot axis `size` that fits its longest tick label (so the unit label
/// beside it never overlaps the ticks).
function fitSize(u, values, axisIdx, cycleNum) {
  const axis = u.axes[axisIdx];
  if (cycleNum > 1 && axis._size) return axis._size;
  let size = (axis.ticks?.size || 10) + (axis.gap || 5);
  const longest = (values || []).reduce((a, v) => (String(v).length > a.length ? String(v) : a), '');
  if (longest) {
    u.ctx.font = axis.font?.[0] || u.ctx.font;
    size += Math.max(...longest.split('\n').map((l) => u.ctx.measureText(l).width)) / devicePixelRatio;
  }
  return Math.ceil(size) + 4;
}

/// A cursor tooltip: the time and every shown series' value there, largest first.
function tooltipPlugin(units, secs) {
  let tt;
  const hide = () => { if (tt) tt.hidden = true; };
  return { hooks: {
    init: [(u) => {
      tt = h('div', { class: 'chart-tooltip', role: 'status', hidden: true });
      u.over.appendChild(tt);
      u.over.addEventListener('mouseleave', hide);
    }],
    setCursor: [(u) => {
      const i = u.cursor.idx;
      if (i === null || i === undefined || !(u.cursor.left >= 0)) { hide(); return; }
      const rows = [];
      for (let s = 1; s < u.series.length; s++) {
        if (!u.series[s].show) continue;
        const v = u.data[s][i];
        rows.push({ s, v: v === undefined ? null : v });
      }
      rows.sort((a, b) => (b.v ?? -Infinity) - (a.v ?? -Infinity));
      clear(tt);
      tt.appendChild(h('div', { class: 'tt-time' }, fmtTs(u.data[0][i], secs)));
      for (const r of rows) {
        const sw = h('span', { class: 'swatch' });
        sw.style.background = u.series[r.s].stroke();
        tt.appendChild(h('div', { class: 'tt-row', 'data-value': r.v === null ? '' : String(r.v) }, sw,
          h('span', { class: 'tt-label' }, u.series[r.s].label), h('span', { class: 'tt-value' }, fmtValue(r.v, units[r.s - 1]))));
      }
      tt.hidden = false;
      const ow = u.over.clientWidth, tw = tt.offsetWidth, th = tt.offsetHeight, oh = u.over.clientHeight;
      let left = u.cursor.left + 14;
      if (left + tw > ow) left = Math.max(0, u.cursor.left - tw - 14);
      tt.style.left = left + 'px';
      tt.style.top = Math.max(0, Math.min(u.cursor.top - th / 2, oh - th)) + 'px';
    }],
  } };
}

/// One line per series (a search box past 8); a click shows or hides it.
function legend(u, labels, colors) {
  const items = labels.map((label, i) => {
    const sw = h('span', { class: 'swatch' });
    sw.style.background = colors[i];
    const b = h('button', { type: 'button', class: 'lg-item', 'aria-pressed': 'true', title: label, 'data-color': colors[i], onclick: () => {
      const show = !u.series[i + 1].show;
      u.setSeries(i + 1, { show });
      b.setAttribute('aria-pressed', String(show));
    } }, sw, h('span', { class: 'lg-label' }, label));
    return h('li', {}, b);
  });
  const list = h('ul', { class: 'chart-legend', 'aria-label': 'Series' }, items);
  // (class u-legend too: where scripts and tests look for uPlot's legend)
  if (labels.length <= 8) return h('div', { class: 'legend-wrap u-legend' }, list);
  const search = h('input', { type: 'search', class: 'legend-search', placeholder: `Filter ${labels.length} series`, 'aria-label': 'Filter series', oninput: () => {
    const q = search.value.trim().toLowerCase();
    items.forEach((li, i) => { li.hidden = !!q && !labels[i].toLowerCase().includes(q); });
  } });
  return h('div', { class: 'legend-wrap u-legend' }, search, list);
}

/// Draws `data` into `el` (replacing any previous chart). `opts`: labels,
/// unit (all series) or units (one per series: CloudWatch unit names),
/// threshold, range [start, end], bands, height, onZoom(min, max).
/// The chart follows `el`'s width. For tests, `el` carries data-points,
/// data-series-points, data-draw-ms and data-axes (each axis's label and
/// tick texts as drawn).
export function draw(el, data, opts) {
  const prev = el._chart;
  if (prev) prev.destroy();
  if (el._ro) { el._ro.disconnect(); el._ro = null; }
  clear(el);
  delete el.dataset.points; // set by the draw hook once drawn
  delete el.dataset.drawMs;
  const width = Math.max(200, el.clientWidth || el.parentElement?.clientWidth || 800);
  const n = opts.labels.length;
  const units = opts.units || opts.labels.map(() => opts.unit || '');
  // Series of other unit kinds than the first get their own scale (the second one an axis on the right).
  const scaleKeys = [];
  const scaleOf = units.map((un) => {
    const k = unitInfo(un).key;
    if (!scaleKeys.includes(k)) scaleKeys.push(k);
    const j = scaleKeys.indexOf(k);
    return j === 0 ? 'y' : `y${j + 1}`;
  });
  // Values in their kind's base unit (Kilobytes → bytes) so one axis scales them all.
  data = data.map((s, i) => {
    const f = i ? unitInfo(units[i - 1]).factor : 1;
    return f === 1 ? s : Array.from(s, (v) => (v === null || v === undefined ? v : v * f));
  });
  const colors = opts.labels.map((l, i) => seriesColor(i, l));
  const series = [{ label: 'Time' }, ...opts.labels.map((label, i) => ({
    label, stroke: colors[i], width: 1.5, spanGaps: false, scale: scaleOf[i],
    points: { show: (data[0]?.length || 0) < 60 },
    // Stacked (cumulative) series: a translucent fill down to the series below (the bands) or zero.
    fill: opts.stacked ? (colors[i].startsWith('#') ? `${colors[i]}59` : colors[i].replace('hsl(', 'hsla(').replace(')', ', 0.35)')) : undefined,
  }))];
  const stackBands = opts.stacked ? opts.labels.slice(1).map((_, i) => ({ series: [i + 2, i + 1] })) : undefined;
  const span = data[0]?.length > 1 ? data[0][1] - data[0][0] : 60;
  const plugins = [tooltipPlugin(units, span < 60)];
  if (opts.bands && opts.bands.length) {
    // Alarm state bands behind the series (drawClear runs before them).
    const fills = { ALARM: 'rgba(201,42,42,0.12)', OK: 'rgba(43,138,62,0.07)', INSUFFICIENT_DATA: 'rgba(134,142,150,0.10)', WINDOW: 'rgba(31,111,235,0.16)' };
    plugins.push({ hooks: { drawClear: [(u) => {
      const ctx = u.ctx;
      ctx.save();
      for (const b of opts.bands) {
        // WINDOW: an alarm's evaluation window, the last `window` seconds at the right edge.
        const [bf, bt] = b.state === 'WINDOW' ? [u.scales.x.max - b.window, u.scales.x.max] : [b.from, b.to];
        const x0 = Math.max(u.bbox.left, u.valToPos(bf, 'x', true));
        const x1 = Math.min(u.bbox.left + u.bbox.width, u.valToPos(bt, 'x', true));
        if (!(x1 > x0) || !fills[b.state]) continue;
        ctx.fillStyle = fills[b.state];
        ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
      }
      ctx.restore();
    }] } });
    el.dataset.bands = opts.bands.map((b) => b.state).join(',');
  }
  const th = opts.threshold !== undefined && opts.threshold !== null && !isNaN(opts.threshold)
    ? opts.threshold * unitInfo(units[0]).factor : undefined;
  if (th !== undefined) {
    el.dataset.threshold = String(opts.threshold); // what the dashed line marks, for tests
    plugins.push({ hooks: { draw: [(u) => {
      const y = u.valToPos(th, 'y', true);
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
  // What each axis drew, for tests and scripts.
  const ticks = [];
  const record = (i, fn) => (u, splits, ...rest) => { const v = fn(u, splits, ...rest); ticks[i] = v; return v; };
  const axisInfo = () => JSON.stringify(ticks.map((t, i) => ({ label: axes[i].label || '', scale: axes[i].scale || 'x', ticks: (t || []).map(String) })));
  // uPlot commits its first draw in a microtask: the figure runs from here to
  // the end of that draw (its `draw` hook), not just the constructor.
  performance.mark('stratus-chart-start');
  let firstDraw = true;
  plugins.push({ hooks: { draw: [() => {
    el.dataset.axes = axisInfo();
    if (!firstDraw) return;
    firstDraw = false;
    performance.mark('stratus-chart-end');
    const m = performance.measure('stratus-chart-draw', 'stratus-chart-start', 'stratus-chart-end');
    el.dataset.drawMs = m.duration.toFixed(1);
    if (opts.t0 !== undefined) el.dataset.loadMs = (performance.now() - opts.t0).toFixed(1);
    el.dataset.points = String(data[0]?.length || 0);
  }] } });
  const yRange = (withTh) => (u, min, max) => {
    const t = withTh ? th : undefined;
    let lo = Math.min(min ?? 0, t ?? Infinity), hi = Math.max(max ?? 1, t ?? -Infinity);
    if (!isFinite(lo)) lo = 0; if (!isFinite(hi)) hi = 1;
    if (lo === hi) { lo -= Math.abs(lo) * 0.1 || 1; hi += Math.abs(hi) * 0.1 || 1; }
    const pad = (hi - lo) * 0.08;
    return [lo >= 0 && lo - pad < 0 ? 0 : lo - pad, hi + pad];
  };
  const scales = { x: opts.range ? { min: opts.range[0], max: opts.range[1] } : {} };
  scaleKeys.forEach((_, j) => { scales[j === 0 ? 'y' : `y${j + 1}`] = { range: yRange(j === 0) }; });
  const utc = useUtc();
  // Axis, tick and grid colours from the theme (app.css --chart-axis/--chart-grid), so dark mode reads.
  const css = getComputedStyle(el);
  const axisC = css.getPropertyValue('--chart-axis').trim() || '#1b1f24', gridC = css.getPropertyValue('--chart-grid').trim() || 'rgba(0,0,0,0.07)';
  const look = { stroke: axisC, grid: { stroke: gridC, width: 1 }, ticks: { stroke: gridC, width: 1 } };
  const axes = [{ ...look, label: `Time (${zoneLabel(new Date(), utc)})`, labelSize: 18, space: 70, values: record(0, (u, splits, ai, space, incr) => {
    // uPlot's formats-by-span table, picked by the tick increment.
    const row = TIME_FORMATS.find((r) => incr >= r[0]) || TIME_FORMATS[TIME_FORMATS.length - 1];
    const tz = (t) => (utc ? window.uPlot.tzDate(new Date(t * 1000), 'Etc/UTC') : new Date(t * 1000));
    const fmt = (f) => window.uPlot.fmtDate(f);
    const base = fmt(row[1]);
    const roll = [2, 3, 4].map((c) => (row[c] ? fmt(row[1] + row[c]) : null));
    let prev = null;
    return splits.map((t) => {
      const d = tz(t);
      let f = base;
      if (prev) {
        if (roll[0] && d.getFullYear() !== prev.getFullYear()) f = roll[0];
        else if (roll[2] && d.getDate() !== prev.getDate()) f = roll[2];
      } else if (row[2] && incr < 86400) f = roll[0] || base;
      prev = d;
      return f(d);
    });
  }) }];
  scaleKeys.slice(0, 2).forEach((k, j) => {
    const un = units[scaleOf.indexOf(j === 0 ? 'y' : 'y2')];
    axes.push({ ...look, scale: j === 0 ? 'y' : 'y2', side: j === 0 ? 3 : 1, label: un || (j === 0 ? '' : k), labelSize: un ? 20 : 0, labelGap: 2,
      values: record(axes.length, axisValues(un)), incrs: axisIncrs(un), size: fitSize, grid: { ...look.grid, show: j === 0 } });
  });
  const chart = new window.uPlot({
    width, height: opts.height || 300,
    series,
    bands: stackBands,
    plugins,
    scales,
    axes,
    tzDate: utc ? (t) => window.uPlot.tzDate(new Date(t * 1000), 'Etc/UTC') : undefined,
    legend: { show: false },
    cursor: { drag: { x: true, y: false } },
    hooks: { setScale: [(u, key) => {
      if (key !== 'x' || !opts.onZoom) return;
      const { min, max } = u.scales.x;
      if (min !== undefined && max !== undefined && min !== null) opts.onZoom(min, max);
    }] },
  }, data, el);
  el._chart = chart;
  if (n) el.appendChild(legend(chart, opts.labels, colors));
  attachTable(el, data, { labels: opts.labels, units, caption: `Graph data: ${opts.labels.join(', ')}` });
  // Follow the container: a narrower window never cuts off the latest data.
  if (window.ResizeObserver) {
    let frame = 0;
    el._ro = new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        const w = Math.max(200, el.clientWidth);
        if (el._chart === chart && Math.abs(w - chart.width) >= 1) chart.setSize({ width: w, height: chart.height });
      });
    });
    el._ro.observe(el);
  }
  el.dataset.seriesPoints = JSON.stringify(data.slice(1).map((s) => s.filter((v) => v !== null && v !== undefined).length));
  return chart;
}

export function cliCommand(metrics, stat, period, start, end, exprs = []) {
  const q = [...metricQueries(metrics, stat, period).map(({ ReturnData, ...x }) => x), ...exprQueries(exprs, period)];
  const iso = (t) => new Date(t * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  const ep = session?.PublicUrl || location.origin;
  return `aws --endpoint-url ${shellQuote(ep)} --profile stratus cloudwatch get-metric-data ` +
    `--start-time ${iso(start)} --end-time ${iso(end)} --metric-data-queries ${shellQuote(JSON.stringify(q))}`;
}

/// From/To follow the console's Local/UTC setting, like the axis.

/// A graph with its controls. `o`: { metrics, stat, period, range, threshold,
/// bands: [{from, to, state}] (epoch s), height, compact (no controls), title,
/// onChange(settings), and for the metrics page: custom ([from, to] epoch s),
/// zoom ([x0, x1], applied once drawn), expressions ([{expr, label}], drawn
/// after the metrics), onErrors({e1: message}) for expressions the server refused,
/// noStat (hide the statistic picker: a Metrics Insights query names its own) }.
export function graphPanel(o) {
  const st = { stat: o.stat || 'Average', range: o.range || 3 * 3600, custom: o.custom || null, refresh: 0, zoom: null };
  const exprs = o.expressions || [];
  let pendingZoom = o.zoom || null;
  st.period = o.period || defaultPeriod(st.range);
  const chartEl = h('div', { class: 'chart', id: o.id || 'chart', 'aria-label': 'metric graph' });
  const status = h('p', { class: 'muted chart-status', 'aria-live': 'polite' });
  // noStat: the statistic is inside the query (Metrics Insights), so no picker.
  const statSel = h('select', { 'aria-label': 'Statistic', class: 'stat-select', hidden: !!o.noStat, onchange: () => { st.stat = statSel.value; load(); } },
    STATS.map((s) => h('option', { value: s, selected: s === st.stat }, s)));
  const periodSel = h('select', { 'aria-label': 'Period', class: 'period-select', onchange: () => { st.period = Number(periodSel.value); load(); } },
    PERIODS.map(([p, l]) => h('option', { value: p, selected: p === st.period }, l)));
  const rangeBtns = RANGES.map(([r, l]) => h('button', { type: 'button', class: 'range', 'data-range': r, 'aria-pressed': String(r === st.range && !st.custom), onclick: (ev) => {
    st.range = r; st.custom = null; st.period = Math.max(defaultPeriod(r), o.minPeriod || 0); periodSel.value = String(st.period);
    rangeBtns.forEach((b) => b.setAttribute('aria-pressed', String(b === ev.currentTarget))); load();
  } }, l));
  const zone = zoneLabel(new Date());
  const from = h('input', { type: 'datetime-local', 'aria-label': 'From', title: zone });
  const to = h('input', { type: 'datetime-local', 'aria-label': 'To', title: zone });
  const customErr = h('span', { class: 'field-error', hidden: true });
  const applyCustom = h('button', { type: 'button', onclick: () => {
    const a = fromInputValue(from.value), b = fromInputValue(to.value);
    if (!(a < b)) { customErr.textContent = 'From must be before To.'; customErr.hidden = false; return; }
    customErr.hidden = true; st.custom = [a, b]; rangeBtns.forEach((x) => x.setAttribute('aria-pressed', 'false')); load();
  } }, 'Apply');
  let timer = null;
  const REFRESH = [[0, 'Auto-refresh off'], [10, 'Every 10 s'], [60, 'Every minute'], [300, 'Every 5 minutes']];
  const startRefresh = (secs) => {
    clearInterval(timer); timer = null; st.refresh = secs;
    if (secs) timer = setInterval(() => { if (!document.body.contains(chartEl)) { clearInterval(timer); return; } load(); }, secs * 1000);
  };
  const refreshSel = h('select', { 'aria-label': 'Auto-refresh', class: 'refresh-select', onchange: () => {
    startRefresh(Number(refreshSel.value));
    if (o.onChange) o.onChange({ ...st });
  } }, REFRESH.map(([v, l]) => h('option', { value: v, selected: v === (o.refresh || 0) }, l)));
  if (REFRESH.some(([v]) => v && v === o.refresh)) startRefresh(o.refresh);
  const cliOut = h('pre', { class: 'cli', hidden: true });
  const copyBtn = h('button', { type: 'button', onclick: async () => {
    const [a, b] = window_();
    cliOut.textContent = cliCommand(o.metrics, st.stat, st.period, a, b, exprs);
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
    if (!o.metrics.length && !exprs.length) { clear(chartEl); status.textContent = 'Select metrics to graph.'; return; }
    const [a, b] = window_();
    if ((b - a) / st.period > 100800 / (o.metrics.length + exprs.length)) {
      status.textContent = 'Too many points for this range: choose a longer period.'; return;
    }
    status.textContent = 'Loading…';
    const t0 = performance.now();
    try {
      const [{ series, errors }, units] = await Promise.all([fetchSeries(o.metrics, exprs, st.stat, st.period, a, b),
        Promise.all(o.metrics.map((m) => fetchUnit(m, st.period, a, b)))]);
      if (my !== seq) return;
      if (o.onErrors) o.onErrors(errors);
      const data = align(series);
      // SampleCount is a count whatever the metric's unit; math over metrics of one unit keeps it.
      const shown = st.stat === 'SampleCount' ? units.map(() => 'Count') : units;
      const mathUnit = new Set(shown).size === 1 ? shown[0] : '';
      const math = series.slice(o.metrics.length);
      const unit = [...new Set(units.filter(Boolean))].join(', ');
      st.zoom = null;
      const chart = draw(chartEl, data, { labels: [...o.metrics.map(metricLabel), ...math.map((s) => s.label)], units: [...shown, ...math.map(() => mathUnit)],
        threshold: o.threshold, bands: o.bands, range: [a, b], height: o.height, t0,
        onZoom: (x0, x1) => {
          from.value = toInputValue(x0); to.value = toInputValue(x1); chartEl.dataset.zoom = `${Math.round(x0)},${Math.round(x1)}`;
          const whole = Math.abs(x0 - a) < 1 && Math.abs(x1 - b) < 1;
          st.zoom = whole ? null : [Math.round(x0), Math.round(x1)];
          if (o.onChange) o.onChange({ ...st });
        } });
      // The math series as drawn (raw values), for tests and scripts.
      chartEl.dataset.exprValues = JSON.stringify(math.map((s) => ({ id: s.id, label: s.label, ts: s.ts, vs: s.vs })));
      const n = data[0].length;
      status.textContent = n ? `${n} points · ${st.stat} per ${PERIODS.find(([p]) => p === st.period)?.[1] || st.period + ' s'}${unit ? ' · ' + unit : ''} · drag to zoom, double-click to reset` : 'No data in this time range.';
      from.value = toInputValue(a); to.value = toInputValue(b);
      if (pendingZoom) { const [z0, z1] = pendingZoom; pendingZoom = null; chart.setScale('x', { min: z0, max: z1 }); }
      if (o.onChange) o.onChange({ ...st });
    } catch (e) {
      if (my !== seq) return;
      clear(chartEl); chartEl.appendChild(errorBox(e)); status.textContent = '';
    }
  }
  const el = h('section', { class: o.compact ? 'graph-panel compact' : 'graph-panel' }, o.title ? h('h3', {}, o.title) : null,
    h('div', { class: 'controls', hidden: !!o.compact }, statSel, periodSel, h('span', { class: 'ranges', role: 'group', 'aria-label': 'Time range' }, rangeBtns),
      h('span', { class: 'custom' }, from, to, h('span', { class: 'muted zone' }, zone), applyCustom, customErr), refreshSel, copyBtn),
    chartEl, status, cliOut);
  el.reload = load;
  el.settings = st;
  queueMicrotask(load);
  return el;
}
