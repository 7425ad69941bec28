// Alarms: the list, one alarm's page, and the create-alarm flow of the story
// (metric → conditions → notification topic with email → name → create).

import { h, mount, route, fmtTime, reasonText, stateBadge, errorBox, field, clear, shellQuote } from './dom.js';
import { cw, sns, paginate, session } from './api.js';
import { graphPanel, metricLabel, STATS, PERIODS } from './chart.js';
import { selection } from './pages.js';
import { toDate } from './time.js';
import { addToDashboardForm } from './dashadd.js';

const OPS = [
  ['GreaterThanOrEqualToThreshold', '>='], ['GreaterThanThreshold', '>'],
  ['LessThanOrEqualToThreshold', '<='], ['LessThanThreshold', '<'],
];
const MISSING = [['missing', 'Missing (keep evaluating what is there)'], ['notBreaching', 'Not breaching (treat as good)'], ['breaching', 'Breaching (treat as bad)'], ['ignore', 'Ignore (keep the current state)']];
const STATES = ['ALARM', 'INSUFFICIENT_DATA', 'OK'];
// Periods AWS allows with a wall-clock evaluation window.
const WALL_CLOCK_PERIODS = [60, 300, 3600, 86400, 604800];

/// How an alarm's EvaluationWindow reads on its page.
function windowText(a) {
  const w = a.EvaluationWindow;
  if (w && w.WallClockWindow) return `Wall clock (complete periods), ${w.WallClockWindow.Timezone || 'UTC'}`;
  return 'Sliding (the last N periods up to each minute)';
}

/// The grouped Metrics Insights query of a multi-time-series alarm (each
/// series it returns is a contributor with its own state), or null.
function groupedQuery(a) {
  const qs = (a.Metrics || []).filter((q) => q.Expression && /\bGROUP\s+BY\b/i.test(q.Expression));
  return qs.length === 1 ? qs[0] : null;
}

/// How many contributors are in ALARM, from the alarm's StateReason
/// ("2 of 3 contributors in ALARM state."); null when it does not say.
function contributorsInAlarm(a) {
  const m = /^(\d+) of \d+ contributors? in ALARM state/.exec(a.StateReason || '');
  return m ? Number(m[1]) : null;
}

/// A contributor's attributes as `key=value` text (sorted by key).
function attrsText(attrs) {
  return Object.entries(attrs || {}).sort(([x], [y]) => x.localeCompare(y)).map(([k, v]) => `${k}=${v}`).join(', ');
}

function opText(a) {
  return OPS.find(([o]) => o === a.ComparisonOperator)?.[1] || a.ComparisonOperator;
}

function condition(a) {
  const op = opText(a);
  return `${a.ExtendedStatistic || a.Statistic || ''} ${op} ${a.Threshold} for ${a.DatapointsToAlarm || a.EvaluationPeriods} of ${a.EvaluationPeriods} × ${a.Period} s`;
}

export async function list(params) {
  mount(h('h1', {}, 'Alarms'), h('p', { class: 'muted' }, 'Loading…'));
  const [metricAlarms, composites] = await Promise.all([
    paginate(cw, 'DescribeAlarms', {}, 'MetricAlarms', 20),
    paginate(cw, 'DescribeAlarms', { AlarmTypes: ['CompositeAlarm'] }, 'CompositeAlarms', 20),
  ]);
  const alarms = [...metricAlarms, ...composites].sort((x, y) => x.AlarmName.localeCompare(y.AlarmName));
  const stateSel = h('select', { 'aria-label': 'Filter by state', id: 'state-filter' }, h('option', { value: '' }, 'All states'), STATES.map((s) => h('option', { value: s, selected: params.get('state') === s }, s)));
  const search = h('input', { type: 'search', 'aria-label': 'Search alarms', placeholder: 'Search names, metrics, descriptions', value: params.get('q') || '' });
  const tbody = h('tbody');
  const render = () => {
    clear(tbody);
    const q = search.value.trim().toLowerCase();
    const shown = alarms.filter((a) => (!stateSel.value || a.StateValue === stateSel.value) &&
      (!q || [a.AlarmName, a.MetricName, a.AlarmDescription || ''].some((s) => (s || '').toLowerCase().includes(q))));
    for (const a of shown) {
      const grouped = groupedQuery(a);
      const n = grouped && a.StateValue === 'ALARM' ? contributorsInAlarm(a) : null;
      tbody.appendChild(h('tr', { 'data-alarm': a.AlarmName },
        h('td', {}, stateBadge(a.StateValue), n !== null ? [' ', h('span', { class: 'badge contributors', 'data-contributors': n }, `${n} contributor${n === 1 ? '' : 's'}`)] : null),
        h('td', {}, h('a', { href: route('alarms', a.AlarmName) }, a.AlarmName)),
        h('td', {}, a.MetricName ? `${a.Namespace} · ${a.MetricName}` : a.AlarmRule ? 'composite' : grouped ? 'Metrics Insights (multi-time-series)' : 'metric math'),
        h('td', {}, a.MetricName ? condition(a) : a.AlarmRule || (grouped ? `${opText(a)} ${a.Threshold} per contributor` : '')), h('td', {}, fmtTime(a.StateUpdatedTimestamp))));
    }
    if (!shown.length) tbody.appendChild(h('tr', {}, h('td', { colspan: 5, class: 'empty' }, alarms.length ? 'No alarm matches.' : 'No alarms yet. Pick a metric on the Metrics page and press “Create alarm”.')));
  };
  stateSel.addEventListener('change', render);
  search.addEventListener('input', render);
  mount(h('h1', {}, 'Alarms'), h('div', { class: 'toolbar' }, stateSel, search, h('a', { class: 'button primary', href: '#/metrics' }, 'Create alarm…')),
    h('div', { class: 'table-wrap' }, h('table', { id: 'alarms-table' }, h('thead', {}, h('tr', {}, h('th', {}, 'State'), h('th', {}, 'Name'), h('th', {}, 'Metric'), h('th', {}, 'Condition'), h('th', {}, 'Since'))), tbody)));
  render();
}

/// An alarm whose threshold is an anomaly band (ThresholdMetricId): its metric
/// (graphed as m1) and the band expression with the metric's id rewritten to m1.
function bandView(a) {
  if (!a.ThresholdMetricId || !a.Metrics) return null;
  const bandQ = a.Metrics.find((q) => q.Id === a.ThresholdMetricId && q.Expression);
  const statQ = a.Metrics.find((q) => q.MetricStat && bandQ && new RegExp(`\\b${q.Id}\\b`).test(bandQ.Expression));
  if (!bandQ || !statQ) return null;
  const m = statQ.MetricStat.Metric;
  const expr = bandQ.Expression.replace(new RegExp(`\\b${statQ.Id}\\b`, 'g'), 'm1');
  return { metric: { Namespace: m.Namespace, MetricName: m.MetricName, Dimensions: m.Dimensions || [] }, stat: statQ.MetricStat.Stat, period: statQ.MetricStat.Period,
    expr: { expr, label: bandQ.Label || metricLabel(m) } };
}

export async function detail(name) {
  mount(h('h1', {}, name), h('p', { class: 'muted' }, 'Loading…'));
  const [r, hist] = await Promise.all([
    cw('DescribeAlarms', { AlarmNames: [name], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] }),
    // All of it (not the newest 100): the state timeline starts at the alarm's first state.
    paginate(cw, 'DescribeAlarmHistory', { AlarmName: name, AlarmTypes: ['MetricAlarm', 'CompositeAlarm'], MaxRecords: 100, ScanBy: 'TimestampDescending' }, 'AlarmHistoryItems', 200),
  ]);
  const a = (r.MetricAlarms || [])[0] || (r.CompositeAlarms || [])[0];
  if (!a) {
    mount(h('nav', { class: 'crumbs' }, h('a', { href: '#/alarms' }, 'Alarms')), h('h1', {}, name), h('p', { class: 'empty', id: 'alarm-missing' }, 'There is no alarm with this name (it may have been deleted).'));
    return;
  }
  const grouped = groupedQuery(a);
  const contributors = grouped ? await paginate(cw, 'DescribeAlarmContributors', { AlarmName: name }, 'AlarmContributors', 100).catch((e) => e) : null;
  const msg = h('div', { 'aria-live': 'polite' });
  const dashSlot = h('div', { id: 'dash-slot' });
  watchState(name, a.StateValue, a.StateUpdatedTimestamp);
  const act = async (fn) => { try { await fn(); await detail(name); } catch (e) { clear(msg).appendChild(errorBox(e)); } };
  const metric = a.MetricName ? [{ Namespace: a.Namespace, MetricName: a.MetricName, Dimensions: a.Dimensions || [] }] : [];
  const band = bandView(a);
  if (band) metric.push(band.metric);
  const items = hist;
  const historyView = historySection(name, items);
  const period = a.Period || grouped?.Period; // a grouped query carries its own Period
  const evalWindow = (period || 60) * (a.EvaluationPeriods || 1);
  const range = defaultRange(a, evalWindow);
  const kv = (k, v) => [h('dt', {}, k), h('dd', {}, v ?? '')];
  const bands = stateBands(items, a);
  mount(
    h('nav', { class: 'crumbs' }, h('a', { href: '#/alarms' }, 'Alarms'), ' › ', name),
    h('h1', { class: 'alarm-title' }, stateBadge(a.StateValue), ' ', h('span', { id: 'alarm-name' }, a.AlarmName)),
    reasonText(a.StateReason || '', { id: 'alarm-reason', class: 'reason' }),
    a.AlarmDescription ? h('p', { class: 'description', id: 'alarm-description' }, a.AlarmDescription) : null,
    h('div', { class: 'actions' },
      a.MetricName ? h('a', { class: 'button', id: 'edit-alarm', href: route('alarms', name, 'edit') }, 'Edit') : null,
      h('button', { type: 'button', id: 'toggle-actions', onclick: () => act(() => cw(a.ActionsEnabled ? 'DisableAlarmActions' : 'EnableAlarmActions', { AlarmNames: [name] })) }, a.ActionsEnabled ? 'Disable actions' : 'Enable actions'),
      h('button', { type: 'button', class: 'danger', id: 'delete-alarm', onclick: async () => {
        if (!confirm(`Delete alarm ${name}?`)) return;
        try { await cw('DeleteAlarms', { AlarmNames: [name] }); location.hash = '#/alarms'; } catch (e) { clear(msg).appendChild(errorBox(e)); }
      } }, 'Delete'),
      h('button', { type: 'button', id: 'add-to-dashboard', onclick: () => addToDashboardForm(dashSlot, (title, y) => alarmWidget(a, title, y)) }, 'Add to dashboard')),
    dashSlot,
    msg,
    metric.length ? graphPanel({ metrics: metric, stat: band ? band.stat : a.ExtendedStatistic || a.Statistic, period: band ? band.period : a.Period, minPeriod: band ? band.period : a.Period, range,
      threshold: band ? undefined : a.Threshold, expressions: band ? [band.expr] : undefined,
      bands: [...bands, { state: 'WINDOW', window: evalWindow }], id: 'alarm-chart' }) : null,
    grouped ? graphPanel({ noStat: true, metrics: [], expressions: [{ expr: grouped.Expression, label: grouped.Label }], period: grouped.Period, minPeriod: grouped.Period, range,
      threshold: a.Threshold, bands: [...bands, { state: 'WINDOW', window: evalWindow }], id: 'alarm-chart' }) : null,
    metric.length || grouped ? h('p', { class: 'muted', id: 'alarm-window-note' }, `Shaded blue at the right edge: the evaluation window (${a.EvaluationPeriods} × ${period} s); red, green and grey behind the line: the alarm's past states.`) : null,
    h('h2', {}, 'Configuration'),
    h('dl', { class: 'kv', id: 'alarm-config' },
      kv('Metric', a.MetricName ? `${a.Namespace} · ${metricLabel(a)}` : grouped ? h('code', { id: 'alarm-query' }, grouped.Expression) : (a.AlarmRule || '')),
      a.MetricName ? kv('Condition', condition(a)) : null,
      grouped ? kv('Condition', `${opText(a)} ${a.Threshold} for ${a.DatapointsToAlarm || a.EvaluationPeriods} of ${a.EvaluationPeriods} × ${grouped.Period} s, per contributor`) : null,
      a.MetricName ? kv('Missing data', a.TreatMissingData || 'missing') : null,
      a.Metrics || a.MetricName ? [h('dt', {}, 'Evaluation window'), h('dd', { id: 'alarm-evaluation-window' }, windowText(a))] : null,
      kv('Actions', a.ActionsEnabled ? 'enabled' : 'disabled'),
      kv('On ALARM', (a.AlarmActions || []).join(', ') || 'none'),
      kv('On OK', (a.OKActions || []).join(', ') || 'none'),
      kv('On INSUFFICIENT_DATA', (a.InsufficientDataActions || []).join(', ') || 'none'),
      kv('ARN', a.AlarmArn)),
    grouped ? contributorsSection(contributors, (c) => historyView.filter(c)) : null,
    historyView.el,
  );
}

/// The graph's default range: from a few evaluation windows before the current
/// state began (so its threshold crossing shows) to now; at least an hour,
/// at most what the alarm's period can draw (~1400 points) or 15 days.
function defaultRange(a, evalWindow) {
  const since = toDate(a.StateUpdatedTimestamp ?? NaN).getTime() / 1000;
  const now = Date.now() / 1000;
  const want = (isFinite(since) ? Math.max(0, now - since) : 0) + 3 * evalWindow;
  return Math.min(15 * 86400, (a.Period || 60) * 1400, Math.max(3600, want, evalWindow * 5));
}

const HISTORY_PAGE = 50;

/// Rows `items` into `tbody` HISTORY_PAGE at a time with Newer/Older buttons
/// (`prefix` keeps the ids of two pagers on one page apart).
function pager(items, tbody, row, prefix, label) {
  let page = 0;
  const pages = Math.ceil(items.length / HISTORY_PAGE);
  const info = h('span', { class: 'muted', id: `${prefix}-page`, 'aria-live': 'polite' });
  const newer = h('button', { type: 'button', id: `${prefix}-newer`, onclick: () => show(page - 1) }, '‹ Newer');
  const older = h('button', { type: 'button', id: `${prefix}-older`, onclick: () => show(page + 1) }, 'Older ›');
  const show = (p) => {
    page = Math.max(0, Math.min(pages - 1, p));
    clear(tbody);
    for (const i of items.slice(page * HISTORY_PAGE, (page + 1) * HISTORY_PAGE)) tbody.appendChild(row(i));
    info.textContent = `${page * HISTORY_PAGE + 1}–${Math.min(items.length, (page + 1) * HISTORY_PAGE)} of ${items.length}`;
    newer.disabled = page === 0;
    older.disabled = page >= pages - 1;
  };
  show(0);
  return pages > 1 ? h('div', { class: 'pager', role: 'group', 'aria-label': label }, newer, info, older) : null;
}

/// A multi-time-series alarm's contributors in ALARM (`list`, or the error
/// DescribeAlarmContributors gave); clicking one calls `onPick(contributor)`.
function contributorsSection(list, onPick) {
  const head = h('h2', { id: 'contributors-heading' }, 'Contributors in ALARM');
  if (!Array.isArray(list)) return h('section', { id: 'alarm-contributors' }, head, errorBox(list));
  if (!list.length) return h('section', { id: 'alarm-contributors' }, head, h('p', { class: 'empty', id: 'contributors-empty' }, 'No contributor is in ALARM.'));
  const tbody = h('tbody');
  const row = (c) => h('tr', { 'data-contributor': c.ContributorId },
    h('td', {}, h('button', { type: 'button', class: 'link contributor-filter', title: 'Show only this contributor’s history', onclick: () => onPick(c) }, attrsText(c.ContributorAttributes))),
    h('td', {}, fmtTime(c.StateTransitionedTimestamp)),
    h('td', {}, reasonText(c.StateReason || '')));
  const pages = pager(list, tbody, row, 'contributors', 'Contributor pages');
  return h('section', { id: 'alarm-contributors', 'aria-labelledby': 'contributors-heading' }, head,
    h('p', { class: 'muted', id: 'contributors-count' }, `${list.length} contributor${list.length === 1 ? '' : 's'} in ALARM · click one to see only its history`),
    h('div', { class: 'table-wrap' }, h('table', { id: 'alarm-contributors-table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Contributor'), h('th', {}, 'In ALARM since'), h('th', {}, 'Reason'))), tbody)),
    pages);
}

// HistoryItemType values DescribeAlarmHistory accepts, for the type filter.
const HISTORY_TYPES = ['ConfigurationUpdate', 'StateUpdate', 'Action', 'AlarmContributorStateUpdate', 'AlarmContributorAction'];

/// The History section: a type filter, and (set by filter(contributor)) the
/// history of one contributor (DescribeAlarmHistory AlarmContributorId) with
/// a button back to the whole history.
function historySection(name, all) {
  let items = all, contributor = null;
  const body = h('div', { id: 'history-body' });
  const note = h('p', { class: 'muted', id: 'history-filter', 'aria-live': 'polite' });
  const typeSel = h('select', { 'aria-label': 'Filter history by type', id: 'history-type', onchange: () => render() },
    h('option', { value: '' }, 'All types'), HISTORY_TYPES.map((t) => h('option', { value: t }, t)));
  const render = () => {
    const shown = typeSel.value ? items.filter((i) => i.HistoryItemType === typeSel.value) : items;
    clear(body).appendChild(shown.length ? historyTable(shown) : h('p', { class: 'empty' }, items.length ? 'No history item of this type.' : 'No history yet.'));
    clear(note);
    if (contributor) {
      note.append(`History of contributor ${attrsText(contributor.ContributorAttributes)} only. `,
        h('button', { type: 'button', id: 'history-clear-filter', onclick: () => { contributor = null; items = all; render(); } }, 'Show all history'));
    }
  };
  const filter = async (c) => {
    try {
      items = await paginate(cw, 'DescribeAlarmHistory', { AlarmName: name, AlarmContributorId: c.ContributorId, MaxRecords: 100, ScanBy: 'TimestampDescending' }, 'AlarmHistoryItems', 200);
      contributor = c;
    } catch (e) { clear(note).appendChild(errorBox(e)); return; }
    render();
    note.scrollIntoView?.({ block: 'nearest' });
  };
  render();
  return { el: h('section', { id: 'alarm-history-section' }, h('h2', {}, 'History'), h('div', { class: 'toolbar' }, typeSel), note, body), filter };
}

/// The whole history, newest first, HISTORY_PAGE rows at a time with Newer/Older.
function historyTable(items) {
  // A Contributor column only when some item names one (multi-time-series alarms).
  const withContrib = items.some((i) => i.AlarmContributorId);
  const tbody = h('tbody');
  const row = (i) => h('tr', { 'data-contributor': i.AlarmContributorId }, h('td', {}, fmtTime(i.Timestamp)), h('td', {}, i.HistoryItemType),
    withContrib ? h('td', { class: 'history-contributor' }, attrsText(i.AlarmContributorAttributes)) : null, h('td', {}, i.HistorySummary));
  const pages = pager(items, tbody, row, 'history', 'History pages');
  return h('div', {},
    h('div', { class: 'table-wrap' }, h('table', { id: 'alarm-history' }, h('thead', {}, h('tr', {}, h('th', {}, 'When'), h('th', {}, 'Type'),
      withContrib ? h('th', {}, 'Contributor') : null, h('th', {}, 'Summary'))), tbody)),
    pages);
}

/// Sets a select to `value`, adding the option when the list lacks it.
/// CloudWatch's widget for an alarm: a metric alarm's graph with its
/// threshold and state (annotations.alarms), a composite alarm's status.
function alarmWidget(a, title, y) {
  const region = session?.Region || 'us-east-1';
  const properties = a.MetricName
    ? { title: title || a.AlarmName, annotations: { alarms: [a.AlarmArn] }, view: 'timeSeries', stacked: false, region }
    : { title: title || a.AlarmName, alarms: [a.AlarmArn] };
  return { type: a.MetricName ? 'metric' : 'alarm', x: 0, y, width: a.MetricName ? 12 : 6, height: 6, properties };
}

function choose(select, value, label) {
  if (value === undefined || value === null) return;
  const v = String(value);
  if (![...select.options].some((o) => o.value === v)) select.appendChild(h('option', { value: v }, label || v));
  select.value = v;
}

function prefill(f, notifyMode, a) {
  choose(f.stat.input, a.ExtendedStatistic || a.Statistic);
  choose(f.period.input, a.Period, `${a.Period} seconds`);
  choose(f.op.input, a.ComparisonOperator);
  f.threshold.input.value = String(a.Threshold);
  f.n.input.value = String(a.EvaluationPeriods);
  f.m.input.value = String(a.DatapointsToAlarm || a.EvaluationPeriods);
  choose(f.missing.input, a.TreatMissingData || 'missing');
  const wall = a.EvaluationWindow && a.EvaluationWindow.WallClockWindow;
  f.window.input.value = wall ? 'wall' : 'sliding';
  f.tz.input.value = (wall && wall.Timezone) || '';
  f.name.input.value = a.AlarmName;
  f.name.input.readOnly = true;
  f.description.input.value = a.AlarmDescription || '';
  const topic = (a.AlarmActions || [])[0];
  const radio = (v) => notifyMode.querySelector(`input[value=${v}]`);
  if (topic) {
    choose(f.existing.input, topic, topic.split(':').pop());
    radio('existing').disabled = false;
    radio('existing').checked = true;
    f.okToo.input.checked = (a.OKActions || []).includes(topic);
  } else {
    radio('none').checked = true;
  }
}

/// While an alarm's page is shown, checks its state every 10 s and redraws
/// the page when it changes (the graph keeps its own auto-refresh setting).
let watcher = null;

function watchState(name, state, updated) {
  clearInterval(watcher); // one watcher: a re-render replaces the previous one
  const route = location.hash;
  const timer = watcher = setInterval(async () => {
    if (location.hash !== route || document.hidden) { if (location.hash !== route) clearInterval(timer); return; }
    try {
      const r = await cw('DescribeAlarms', { AlarmNames: [name], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] });
      const now = (r.MetricAlarms || [])[0] || (r.CompositeAlarms || [])[0];
      if (!now || now.StateValue !== state || now.StateUpdatedTimestamp !== updated) {
        clearInterval(timer);
        if (location.hash === route) await detail(name);
      }
    } catch { /* a failed poll is retried on the next tick */ }
  }, 10000);
}

/// The alarm's states over time from its StateUpdate history (newest first).
function stateBands(items, a) {
  const updates = items.filter((i) => i.HistoryItemType === 'StateUpdate').map((i) => {
    let d = {};
    try { d = JSON.parse(i.HistoryData || '{}'); } catch { /* not JSON: skip */ }
    return { t: typeof i.Timestamp === 'number' ? i.Timestamp : Date.parse(i.Timestamp) / 1000, from: d.oldState?.stateValue, to: d.newState?.stateValue };
  }).filter((u) => u.to && isFinite(u.t)).sort((x, y) => x.t - y.t);
  const bands = [];
  const now = Date.now() / 1000;
  let start = 0, state = updates[0]?.from || a.StateValue;
  for (const u of updates) { bands.push({ from: start, to: u.t, state }); start = u.t; state = u.to; }
  bands.push({ from: start, to: now + 86400, state });
  return bands;
}

/// The create-alarm flow for the metric selected on the Metrics page, or
/// (with `editName`) the same form filled from an existing metric alarm.
export async function create(editName) {
  let existing = null, m;
  if (editName !== undefined) {
    existing = ((await cw('DescribeAlarms', { AlarmNames: [editName] })).MetricAlarms || [])[0];
    if (!existing || !existing.MetricName) {
      mount(h('h1', {}, 'Edit alarm'), h('p', { class: 'empty' }, 'Only an existing alarm on a single metric can be edited here; use the API for metric-math and composite alarms.'));
      return;
    }
    m = { Namespace: existing.Namespace, MetricName: existing.MetricName, Dimensions: existing.Dimensions || [] };
  } else {
    const sel = selection.get();
    if (sel.length !== 1) {
      mount(h('h1', {}, 'Create alarm'), h('p', { class: 'empty' }, 'First choose one metric: '), h('a', { href: '#/metrics', class: 'button primary' }, 'Browse metrics'));
      return;
    }
    m = sel[0];
  }
  const topics = await paginate(sns, 'ListTopics', {}, 'Topics', 10).catch(() => []);
  const preview = h('div', { id: 'alarm-preview' });
  const num = (id, v, attrs = {}) => h('input', { id, type: 'number', value: v, ...attrs });
  const f = {
    stat: field('Statistic', h('select', { id: 'alarm-stat' }, STATS.map((s) => h('option', { value: s, selected: s === 'Average' }, s)))),
    period: field('Period', h('select', { id: 'alarm-period' }, PERIODS.map(([p, l]) => h('option', { value: p, selected: p === 3600 }, l)))),
    op: field('Condition', h('select', { id: 'alarm-op' }, OPS.map(([o, s]) => h('option', { value: o }, `${s} threshold`)))),
    threshold: field('Threshold', num('alarm-threshold', '', { step: 'any', required: true })),
    m: field('Datapoints to alarm (M)', num('alarm-m', 1, { min: 1 })),
    n: field('Evaluation periods (N)', num('alarm-n', 1, { min: 1 }), 'Alarm when M of the last N periods breach.'),
    missing: field('Missing data', h('select', { id: 'alarm-missing' }, MISSING.map(([v, l]) => h('option', { value: v }, l)))),
    window: field('Evaluation window', h('select', { id: 'alarm-window' },
      h('option', { value: 'sliding' }, 'Sliding: the last N periods, judged every minute'),
      h('option', { value: 'wall' }, 'Wall clock: complete hours, days or weeks')),
    'Sliding fires as soon as data crosses the threshold; wall clock waits for the period to end.'),
    tz: field('Time zone', h('input', { id: 'alarm-timezone', placeholder: 'UTC' }), 'Where periods start: UTC, an offset such as +05:30, or a name such as America/New_York.'),
    existing: field('Existing topic', h('select', { id: 'alarm-topic' }, topics.map((t) => h('option', { value: t.TopicArn }, t.TopicArn.split(':').pop())))),
    topicName: field('New topic name', h('input', { id: 'alarm-topic-name', placeholder: 'e.g. ops-alerts' })),
    email: field('Email address', h('input', { id: 'alarm-email', type: 'email', placeholder: 'you@example.com' }), 'It receives a confirmation email; nothing else is sent until the link in it is followed.'),
    okToo: field('Also notify when it is back to OK', h('input', { id: 'alarm-ok', type: 'checkbox', checked: true })),
    name: field('Alarm name', h('input', { id: 'alarm-name-input', required: true, value: `${m.MetricName}-${(m.Dimensions || []).map((d) => d.Value).join('-')}`.slice(0, 200) })),
    description: field('Description', h('textarea', { id: 'alarm-description-input', rows: 2 })),
  };
  const notifyMode = h('fieldset', { class: 'radios' }, h('legend', {}, 'Notification'),
    [['new', 'Create a new topic with an email address'], ['existing', 'Send to an existing topic', !topics.length], ['none', 'No notification']].map(([v, l, dis]) =>
      h('label', {}, h('input', { type: 'radio', name: 'notify', value: v, checked: v === 'new', disabled: dis, id: `notify-${v}` }), ' ', l)));
  const mode = () => notifyMode.querySelector('input[name=notify]:checked')?.value || 'none';
  const newBox = h('div', {}, f.topicName.wrap, f.email.wrap);
  const exBox = h('div', { hidden: true }, f.existing.wrap);
  const syncMode = () => { newBox.hidden = mode() !== 'new'; exBox.hidden = mode() !== 'existing'; f.okToo.wrap.hidden = mode() === 'none'; };
  notifyMode.addEventListener('change', syncMode);
  const formErr = h('div', { 'aria-live': 'polite', id: 'create-error' });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'alarm-create' }, existing ? 'Save alarm' : 'Create alarm');
  if (existing) prefill(f, notifyMode, existing);

  const syncWindow = () => { f.tz.wrap.hidden = f.window.input.value !== 'wall'; };
  f.window.input.addEventListener('change', syncWindow);
  const evaluationWindow = () => {
    if (f.window.input.value === 'wall') {
      const tz = f.tz.input.value.trim();
      return { WallClockWindow: tz ? { Timezone: tz } : {} };
    }
    // Sliding is the default: say so only if the alarm already did.
    return existing && existing.EvaluationWindow && existing.EvaluationWindow.SlidingWindow ? { SlidingWindow: {} } : undefined;
  };
  const params = () => {
    const stat = f.stat.input.value;
    const p = {
      AlarmName: f.name.input.value.trim(),
      AlarmDescription: f.description.input.value.trim() || undefined,
      Namespace: m.Namespace, MetricName: m.MetricName, Dimensions: m.Dimensions || [],
      Period: Number(f.period.input.value),
      ComparisonOperator: f.op.input.value,
      Threshold: Number(f.threshold.input.value),
      EvaluationPeriods: Number(f.n.input.value),
      DatapointsToAlarm: Number(f.m.input.value),
      TreatMissingData: f.missing.input.value,
      EvaluationWindow: evaluationWindow(),
      ActionsEnabled: existing ? existing.ActionsEnabled : true,
    };
    if (existing) {
      // PutMetricAlarm replaces the whole alarm: keep what this form does not show.
      if (existing.Unit) p.Unit = existing.Unit;
      p.InsufficientDataActions = existing.InsufficientDataActions || [];
      p.AlarmActions = [];
      p.OKActions = [];
    }
    if (/^p\d/.test(stat)) p.ExtendedStatistic = stat; else p.Statistic = stat;
    return p;
  };
  const validate = () => {
    let ok = true;
    const err = (fl, msg) => { fl.error(msg); if (msg) ok = false; };
    const p = params();
    err(f.threshold, f.threshold.input.value.trim() === '' || !isFinite(p.Threshold) ? 'Enter a number.' : '');
    err(f.n, !(Number.isInteger(p.EvaluationPeriods) && p.EvaluationPeriods >= 1) ? 'A whole number of at least 1.' : '');
    err(f.m, !(Number.isInteger(p.DatapointsToAlarm) && p.DatapointsToAlarm >= 1 && p.DatapointsToAlarm <= p.EvaluationPeriods) ? 'Between 1 and N.' : '');
    err(f.period, p.EvaluationWindow && p.EvaluationWindow.WallClockWindow && !WALL_CLOCK_PERIODS.includes(p.Period) ? 'A wall-clock window needs 1 minute, 5 minutes, 1 hour, 1 day or 1 week.' : '');
    err(f.name, !p.AlarmName ? 'Give the alarm a name.' : p.AlarmName.length > 255 ? 'At most 255 characters.' : '');
    if (mode() === 'new') {
      err(f.topicName, !/^[A-Za-z0-9_-]{1,256}$/.test(f.topicName.input.value.trim()) ? 'Letters, digits, - and _ only (1–256).' : '');
      err(f.email, !/^[^\s@]+@[^\s@]+$/.test(f.email.input.value.trim()) ? 'Enter an email address.' : '');
    } else { f.topicName.error(''); f.email.error(''); }
    return ok;
  };
  const renderPreview = () => {
    const p = params();
    const topic = mode() === 'new' ? `new topic ${f.topicName.input.value.trim() || '…'} → ${f.email.input.value.trim() || '…'}` : mode() === 'existing' ? f.existing.input.value : 'no notification';
    const op = OPS.find(([o]) => o === p.ComparisonOperator)[1];
    clear(preview).append(
      h('p', {}, `When ${p.Statistic || p.ExtendedStatistic} of ${metricLabel(m)} ${op} ${f.threshold.input.value || '…'} for ${p.DatapointsToAlarm} of ${p.EvaluationPeriods} ${p.EvaluationWindow && p.EvaluationWindow.WallClockWindow ? 'complete wall-clock' : 'sliding'} periods of ${p.Period} s, go to ALARM and notify: ${topic}.`),
      // --endpoint-url: pasted without it, the command would create the alarm in real AWS.
      h('pre', { class: 'cli' }, `aws --endpoint-url ${shellQuote(session?.PublicUrl || location.origin)} --profile stratus cloudwatch put-metric-alarm --cli-input-json ${shellQuote(JSON.stringify(p))}`));
  };
  // Errors never outlive their cause: editing a field drops the server's message about it, and once
  // a submit has been refused the checks run again on every edit, so a fixed field is cleared at once.
  let refused = false;
  const fieldsMsg = (text) => { formErr.dataset.kind = 'fields'; formErr.appendChild(h('p', { class: 'error' }, text)); };
  const recheck = (e) => {
    const edited = Object.values(f).find((fl) => fl.input === e.target || fl.wrap.contains(e.target));
    if (edited) edited.error('');
    if (refused) validate();
    if (formErr.dataset.kind === 'fields' && !form.querySelector('.field-error:not([hidden])')) { clear(formErr); delete formErr.dataset.kind; }
  };
  const form = h('form', { class: 'wizard', id: 'create-alarm-form', novalidate: true,
    oninput: (e) => { recheck(e); renderPreview(); }, onchange: (e) => { recheck(e); renderPreview(); }, onsubmit: async (e) => {
    e.preventDefault();
    clear(formErr);
    delete formErr.dataset.kind;
    for (const fl of Object.values(f)) fl.error('');
    refused = false;
    if (!validate()) { refused = true; fieldsMsg('Please correct the fields marked above.'); return; }
    submit.disabled = true;
    const p = params();
    try {
      let topicArn;
      if (mode() === 'new') {
        try {
          topicArn = (await sns('CreateTopic', { Name: f.topicName.input.value.trim() })).TopicArn;
        } catch (err) { f.topicName.error(err.message); throw null; }
        try {
          await sns('Subscribe', { TopicArn: topicArn, Protocol: 'email', Endpoint: f.email.input.value.trim() });
        } catch (err) { f.email.error(err.message); throw null; }
      } else if (mode() === 'existing') topicArn = f.existing.input.value;
      if (topicArn) { p.AlarmActions = [topicArn]; if (f.okToo.input.checked) p.OKActions = [topicArn]; }
      try { await cw('PutMetricAlarm', p); } catch (err) {
        const target = [['Threshold', f.threshold], ['EvaluationPeriods', f.n], ['DatapointsToAlarm', f.m], ['Period', f.period], ['AlarmName', f.name], ['AlarmDescription', f.description], ['Statistic', f.stat], ['Timezone', f.tz], ['EvaluationWindow', f.window]]
          .find(([k]) => (err.message || '').includes(k));
        if (target) target[1].error(err.message); else formErr.appendChild(errorBox(err));
        throw null;
      }
      location.hash = route('alarms', p.AlarmName);
    } catch (err) {
      if (err) formErr.appendChild(errorBox(err));
      if (!formErr.firstChild) fieldsMsg('Not created: see the message next to the field.');
      submit.disabled = false;
    }
  } },
    h('section', {}, h('h2', {}, '1. Metric'), h('p', { id: 'alarm-metric' }, `${m.Namespace} · ${metricLabel(m)}`)),
    h('section', {}, h('h2', {}, '2. Conditions'), h('div', { class: 'grid' }, f.stat.wrap, f.period.wrap, f.op.wrap, f.threshold.wrap, f.m.wrap, f.n.wrap, f.missing.wrap, f.window.wrap, f.tz.wrap)),
    h('section', {}, h('h2', {}, '3. Actions'), notifyMode, newBox, exBox, f.okToo.wrap),
    h('section', {}, h('h2', {}, '4. Name and description'), f.name.wrap, f.description.wrap),
    h('section', {}, h('h2', {}, '5. Preview'), preview),
    formErr, h('div', { class: 'actions' }, submit, h('a', { href: '#/metrics', class: 'button' }, 'Cancel')));
  mount(h('nav', { class: 'crumbs' }, h('a', { href: '#/alarms' }, 'Alarms'), existing ? [' › ', h('a', { href: route('alarms', existing.AlarmName) }, existing.AlarmName), ' › edit'] : ' › create'),
    h('h1', {}, existing ? 'Edit alarm' : 'Create alarm'), form);
  syncMode(); syncWindow(); renderPreview();
}

export { session };
