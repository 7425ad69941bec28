// CloudWatch Logs: log groups → a group's streams, search (filter pattern,
// time range, "load more", live tail) and metric filters → one stream's
// events; "create metric filter" from a search and "create alarm" from a
// filter; Logs Insights queries with a results table and, for
// `stats … by bin(…)`, a chart.
//
// Log lines are attacker-controlled (anything that can write to a stream
// writes them): like every other value they reach the page only as text
// nodes through `h`. Times are UTC in ISO order (`2026-12-07 06:41:00`),
// never the browser's locale order, so two people reading one screen agree.

import { h, mount, route, errorBox, field, clear, fmtTime } from './dom.js';
import { zoneLabel, parseTyped } from './time.js';
import { draw } from './chart.js';

// Event tables name the zone once, in the time column's header.
const timeHead = () => `Time (${zoneLabel(new Date())})`;
import { call, cw, sns, paginate } from './api.js';

const logs = (action, params) => call('logs', action, params);

// ---- formatting -------------------------------------------------------------

/// `2026-12-07 06:41:00` (UTC) from epoch milliseconds; '' when absent.
export function fmtUtc(ms, withMillis = false) {
  if (typeof ms !== 'number' || !isFinite(ms)) return '';
  const d = new Date(ms);
  if (isNaN(d)) return '';
  const iso = d.toISOString(); // 2026-12-07T06:41:00.123Z
  return iso.slice(0, 10) + ' ' + iso.slice(11, withMillis ? 23 : 19);
}


/// `YYYY-MM-DD HH:MM[:SS]` (or with a `T`) read as UTC; NaN when it is not one.
export function parseUtc(text) {
  const m = /^\s*(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?\s*(?:Z|UTC)?\s*$/i.exec(text || '');
  if (!m) return NaN;
  const [y, mo, d, hh, mi, ss = '0', frac = '0'] = m.slice(1).map((x) => x ?? undefined);
  const ms = Date.UTC(+y, +mo - 1, +d, +hh, +mi, +ss, Number(frac.padEnd(3, '0')));
  // Date.UTC rolls 2026-02-31 over into March: a round trip refuses it.
  return fmtUtc(ms).slice(0, 16) === `${y}-${mo}-${d} ${hh}:${mi}` ? ms : NaN;
}

function fmtBytes(n) {
  if (typeof n !== 'number' || !isFinite(n)) return '';
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let i = 0, v = n;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return i === 0 ? `${v} bytes` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

const fmtCount = (n) => (typeof n === 'number' && isFinite(n) ? Math.round(n).toLocaleString('en-US') : '');

// ---- time range -------------------------------------------------------------

const RELATIVE = [['5m', 5 * 60e3], ['1h', 3600e3], ['1d', 86400e3], ['1w', 7 * 86400e3]];

/// Relative buttons (5m/1h/1d/1w) or an absolute window in the console's zone. `get()`
/// returns `{ start, end }` in epoch ms, or `{ error }`.
function timeRange(initial = '1h') {
  let mode = RELATIVE.some(([k]) => k === initial) ? initial : '1h';
  // Typed in the console's zone (the Local/UTC setting), which the fields name.
  const zone = zoneLabel(new Date());
  const from = h('input', { type: 'text', class: 'utc-input', 'aria-label': `From (${zone})`, placeholder: 'YYYY-MM-DD HH:MM', 'data-edge': 'from' });
  const to = h('input', { type: 'text', class: 'utc-input', 'aria-label': `To (${zone})`, placeholder: 'YYYY-MM-DD HH:MM', 'data-edge': 'to' });
  const abs = h('span', { class: 'custom', hidden: true }, from, ' to ', to, h('span', { class: 'muted' }, ` ${zone}`));
  const buttons = [...RELATIVE.map(([k]) => k), 'absolute'].map((k) => h('button', {
    type: 'button', class: 'range', 'data-range': k, 'aria-pressed': String(k === mode),
    onclick: () => {
      if (k === 'absolute' && mode !== 'absolute') {
        // Start from the window shown so far, so switching loses nothing.
        const w = get();
        if (!w.error) { from.value = fmtTime(w.start, { secs: false, zone: false }); to.value = fmtTime(w.end, { secs: false, zone: false }); }
      }
      mode = k; sync();
    },
  }, k === 'absolute' ? 'Absolute' : k));
  const sync = () => {
    buttons.forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.range === mode)));
    abs.hidden = mode !== 'absolute';
  };
  function get() {
    if (mode !== 'absolute') {
      const end = Date.now();
      return { start: end - RELATIVE.find(([k]) => k === mode)[1], end };
    }
    const start = parseTyped(from.value), end = parseTyped(to.value);
    if (isNaN(start) || isNaN(end)) return { error: `Write both ends as YYYY-MM-DD HH:MM (${zone}).` };
    if (!(start < end)) return { error: 'The start must be before the end.' };
    return { start, end };
  }
  return { el: h('span', { class: 'ranges', role: 'group', 'aria-label': 'Time range' }, buttons, abs), get, mode: () => mode };
}

// ---- log groups -------------------------------------------------------------

export async function groups(params) {
  const search = h('input', { type: 'search', id: 'log-group-search', placeholder: 'Filter log groups by name', 'aria-label': 'Filter log groups by name', value: params.get('q') || '' });
  const tbody = h('tbody');
  const status = h('p', { class: 'muted', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', id: 'log-groups-more', hidden: true }, 'Load more');
  let token = null, seq = 0;
  const load = async (append) => {
    const my = ++seq;
    const q = search.value.trim();
    status.textContent = 'Loading…';
    try {
      const r = await logs('DescribeLogGroups', { limit: 50, ...(q ? { logGroupNamePattern: q } : {}), ...(append && token ? { nextToken: token } : {}) });
      if (my !== seq) return;
      if (!append) clear(tbody);
      for (const g of r.logGroups || []) {
        tbody.appendChild(h('tr', { 'data-group': g.logGroupName },
          h('td', {}, h('a', { href: route('logs', g.logGroupName) }, g.logGroupName)),
          h('td', { class: 'retention' }, g.retentionInDays ? `${g.retentionInDays} days` : 'Never expire'),
          h('td', { class: 'stored-bytes' }, fmtBytes(g.storedBytes)),
          h('td', { class: 'filter-count' }, String(g.metricFilterCount ?? 0)),
          h('td', {}, fmtTime(g.creationTime))));
      }
      token = r.nextToken || null;
      more.hidden = !token;
      const n = tbody.querySelectorAll('tr[data-group]').length;
      status.textContent = n ? '' : q ? `No log group name contains “${q}”.` : 'No log groups yet. Send logs with the CloudWatch agent or `aws logs put-log-events`.';
    } catch (e) {
      if (my === seq) clear(status).appendChild(errorBox(e));
    }
  };
  let debounce = null;
  search.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(() => load(false), 250); });
  more.addEventListener('click', () => load(true));
  mount(h('h1', {}, 'Log groups'),
    h('div', { class: 'toolbar' }, search, h('a', { class: 'button', href: '#/insights' }, 'Logs Insights')),
    h('div', { class: 'table-wrap' }, h('table', { id: 'log-groups' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Retention'), h('th', {}, 'Stored'), h('th', {}, 'Metric filters'), h('th', {}, 'Created'))), tbody)),
    status, more);
  await load(false);
}

// ---- one group: search, live tail, streams, metric filters ------------------

/// Rows shown by a search or a tail beyond this are dropped from the top:
/// a tail left running all day must not grow the page without bound.
const MAX_LINES = 2000;
const TAIL_EVERY_MS = 2000;

function eventRow(ev, group) {
  return h('tr', { class: 'log-event', 'data-event-id': ev.eventId || '', 'data-ts': String(ev.timestamp) },
    h('td', { class: 'time', title: `${fmtUtc(ev.timestamp, true)} UTC` }, fmtTime(ev.timestamp, { zone: false })),
    group !== undefined ? h('td', { class: 'stream' }, h('a', { href: route('logs', group, ev.logStreamName) }, ev.logStreamName)) : null,
    h('td', { class: 'message' }, ev.message));
}

export async function group(name, params) {
  mount(h('nav', { class: 'crumbs' }, h('a', { href: '#/logs' }, 'Log groups'), ' › ', name), h('h1', {}, name), h('p', { class: 'muted' }, 'Loading…'));
  const r = await logs('DescribeLogGroups', { logGroupNamePrefix: name, limit: 50 });
  const g = (r.logGroups || []).find((x) => x.logGroupName === name);
  if (!g) {
    mount(h('nav', { class: 'crumbs' }, h('a', { href: '#/logs' }, 'Log groups')), h('h1', {}, name),
      h('p', { class: 'empty', id: 'log-group-missing' }, 'There is no log group with this name (it may have been deleted).'));
    return;
  }
  const filtersSlot = h('div', { id: 'metric-filters' });
  const formSlot = h('div', { id: 'filter-form-slot' });
  const search = searchPanel(name, params, (pattern) => {
    clear(formSlot).appendChild(metricFilterForm(name, pattern, async (created) => {
      await showFilters();
      clear(formSlot).appendChild(h('div', { class: 'notice', id: 'metric-filter-created' },
        h('p', {}, `Metric filter ${created.filterName} created: it counts into ${created.metricNamespace} · ${created.metricName} from now on.`),
        h('button', { type: 'button', class: 'primary', id: 'create-alarm-from-filter', onclick: () => clear(formSlot).appendChild(filterAlarmForm(created)) }, 'Create alarm from this filter')));
    }));
    formSlot.scrollIntoView({ block: 'nearest' });
  });
  const showFilters = async () => {
    try {
      const list = await paginate(logs, 'DescribeMetricFilters', { logGroupName: name }, 'metricFilters', 10);
      clear(filtersSlot).appendChild(filterTable(name, list, formSlot, showFilters));
    } catch (e) { clear(filtersSlot).appendChild(errorBox(e)); }
  };
  const kv = (k, v) => [h('dt', {}, k), h('dd', {}, v)];
  mount(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/logs' }, 'Log groups'), ' › ', name),
    h('h1', { id: 'log-group-name' }, name),
    h('dl', { class: 'kv' },
      kv('Retention', g.retentionInDays ? `${g.retentionInDays} days` : 'Never expire'),
      kv('Stored', fmtBytes(g.storedBytes)),
      kv('Created', fmtTime(g.creationTime) || '—'),
      kv('ARN', g.logGroupArn || g.arn || '')),
    h('div', { class: 'actions' }, h('a', { class: 'button', href: `#/insights?group=${encodeURIComponent(name)}` }, 'Query with Logs Insights')),
    h('h2', {}, 'Search'), search, formSlot,
    h('h2', {}, 'Metric filters'), filtersSlot,
    h('h2', {}, 'Log streams'), streamList(name));
  await showFilters();
}

/// Filter-pattern box + time range → FilterLogEvents, "load more" through
/// nextToken, and the live tail. `onCreateFilter(pattern)` opens the metric
/// filter form with the pattern searched for.
function searchPanel(groupName, params, onCreateFilter) {
  const pattern = h('input', { type: 'search', id: 'log-filter-pattern', class: 'pattern', placeholder: 'Filter pattern, e.g. ERROR, "disk full", { $.level = "error" }', 'aria-label': 'Filter pattern', value: params.get('q') || '' });
  const range = timeRange(params.get('range') || '1h');
  const status = h('p', { class: 'muted', id: 'log-search-status', 'aria-live': 'polite' });
  const tbody = h('tbody');
  const more = h('button', { type: 'button', id: 'log-search-more', hidden: true }, 'Load more');
  const tailBtn = h('button', { type: 'button', id: 'log-tail', 'aria-pressed': 'false' }, 'Live tail');
  const createBtn = h('button', { type: 'button', id: 'create-metric-filter', onclick: () => onCreateFilter(pattern.value.trim()) }, 'Create metric filter');
  const table = h('table', { id: 'log-events', class: 'log-lines' },
    h('thead', {}, h('tr', {}, h('th', { class: 'time' }, timeHead()), h('th', {}, 'Stream'), h('th', {}, 'Message'))), tbody);
  let query = null;   // the search the rows belong to: { pattern, start, end, token }
  let newest = null;  // newest timestamp shown (ms): where the tail polls from
  let seen = new Map(); // eventId → timestamp, for events at or after `newest`
  let seq = 0;

  const add = (events) => {
    for (const ev of events) {
      if (ev.eventId && seen.has(ev.eventId)) continue;
      if (ev.eventId) seen.set(ev.eventId, ev.timestamp);
      tbody.appendChild(eventRow(ev, groupName));
      if (newest === null || ev.timestamp > newest) newest = ev.timestamp;
    }
    let rows = tbody.children.length;
    while (rows-- > MAX_LINES) tbody.removeChild(tbody.firstChild);
    // Only ids at the newest timestamp can come back from a poll starting there.
    for (const [id, ts] of seen) if (ts < newest) seen.delete(id);
    table.dataset.lines = String(tbody.children.length);
  };

  const params_ = (q) => ({ logGroupName: groupName, startTime: q.start, endTime: q.end, limit: 500,
    ...(q.pattern ? { filterPattern: q.pattern } : {}), ...(q.token ? { nextToken: q.token } : {}) });

  /// One page of results: the server may answer with a token and no
  /// events when its scan budget ran out, so follow tokens a few times.
  const fetchPage = async (q, my) => {
    for (let i = 0; i < 20; i++) {
      const r = await logs('FilterLogEvents', params_(q));
      if (my !== seq) return null;
      q.token = r.nextToken || null;
      if ((r.events || []).length || !q.token) return r.events || [];
    }
    return [];
  };

  const run = async (append) => {
    const my = ++seq;
    stopTail();
    if (!append) {
      const w = range.get();
      if (w.error) { status.textContent = w.error; return; }
      query = { pattern: pattern.value.trim(), start: w.start, end: w.end, token: null };
      clear(tbody); newest = null; seen = new Map();
      // Keep the search in the address (no hashchange: the page stays).
      const qs = new URLSearchParams({ ...(query.pattern ? { q: query.pattern } : {}), range: range.mode() }).toString();
      history.replaceState(null, '', `${route('logs', groupName)}?${qs}`);
    }
    status.textContent = 'Searching…';
    more.hidden = true;
    try {
      const events = await fetchPage(query, my);
      if (events === null) return;
      add(events);
      more.hidden = !query.token;
      const n = tbody.children.length;
      status.textContent = n ? `${n} matching event${n === 1 ? '' : 's'}${query.token ? ' (more available)' : ''}.` : `No events match${query.pattern ? ` “${query.pattern}”` : ''} in this time range.`;
      table.dataset.searched = String(Number(table.dataset.searched || 0) + 1);
    } catch (e) {
      if (my === seq) clear(status).appendChild(errorBox(e));
    }
  };

  // Live tail: every 2 s, FilterLogEvents from the newest timestamp seen
  // (inclusive: a line written later with the same millisecond is not lost;
  // the ids seen there drop the repeats).
  let tailTimer = null, tailing = false;
  const poll = async () => {
    if (!tailing) return;
    if (!document.body.contains(table)) { stopTail(); return; } // the page was left
    // No end time: lines stamped slightly in the future (clock skew) still show.
    const q = { pattern: pattern.value.trim(), start: newest ?? Date.now(), end: undefined, token: null };
    try {
      for (let i = 0; i < 20 && tailing; i++) {
        const r = await logs('FilterLogEvents', params_(q));
        if (!tailing) break;
        add(r.events || []);
        q.token = r.nextToken || null;
        if (!q.token) break;
      }
      if (tailing) status.textContent = `Live tail: ${tbody.children.length} lines, polling every 2 s${tbody.children.length >= MAX_LINES ? ` (the oldest beyond ${MAX_LINES} are dropped)` : ''}.`;
    } catch (e) {
      if (tailing) clear(status).appendChild(errorBox(e)); // retried on the next tick
    }
    if (tailing) tailTimer = setTimeout(poll, TAIL_EVERY_MS);
  };
  function stopTail() {
    tailing = false; clearTimeout(tailTimer);
    tailBtn.setAttribute('aria-pressed', 'false'); tailBtn.textContent = 'Live tail';
  }
  tailBtn.addEventListener('click', () => {
    if (tailing) { stopTail(); status.textContent = 'Live tail stopped.'; return; }
    seq++; // a search still running must not add its rows after the tail's
    tailing = true; more.hidden = true;
    tailBtn.setAttribute('aria-pressed', 'true'); tailBtn.textContent = 'Stop live tail';
    status.textContent = 'Live tail: waiting for new lines…';
    if (newest === null) newest = Date.now();
    poll();
  });
  more.addEventListener('click', () => run(true));
  const form = h('form', { class: 'search-form', id: 'log-search-form', role: 'search', onsubmit: (e) => { e.preventDefault(); run(false); } },
    h('div', { class: 'toolbar' }, pattern, h('button', { type: 'submit', class: 'primary', id: 'log-search' }, 'Search'), tailBtn, createBtn),
    h('div', { class: 'toolbar' }, range.el),
    h('p', { class: 'hint' }, 'Terms match case-sensitively anywhere in a line; quote phrases; ?A ?B matches either; -term excludes; { $.field = value } matches JSON lines. An empty pattern shows every line.'));
  if (params.get('q') !== null) queueMicrotask(() => run(false));
  return h('section', { class: 'log-search' }, form, status, h('div', { class: 'table-wrap' }, table), more);
}

// ---- streams and one stream's events ------------------------------------------

function streamList(groupName) {
  const tbody = h('tbody');
  const status = h('p', { class: 'muted' }, 'Loading…');
  const more = h('button', { type: 'button', id: 'log-streams-more', hidden: true }, 'More streams');
  let token = null;
  const load = async () => {
    try {
      const r = await logs('DescribeLogStreams', { logGroupName: groupName, orderBy: 'LastEventTime', descending: true, limit: 50, ...(token ? { nextToken: token } : {}) });
      for (const s of r.logStreams || []) {
        tbody.appendChild(h('tr', { 'data-stream': s.logStreamName },
          h('td', {}, h('a', { href: route('logs', groupName, s.logStreamName) }, s.logStreamName)),
          h('td', {}, fmtTime(s.lastEventTimestamp)), h('td', {}, fmtTime(s.firstEventTimestamp)), h('td', {}, fmtBytes(s.storedBytes))));
      }
      token = r.nextToken || null;
      more.hidden = !token;
      status.textContent = tbody.children.length ? '' : 'No streams in this group yet.';
    } catch (e) { clear(status).appendChild(errorBox(e)); }
  };
  more.addEventListener('click', load);
  queueMicrotask(load);
  return h('section', {},
    h('div', { class: 'table-wrap' }, h('table', { id: 'log-streams' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Stream'), h('th', {}, 'Last event'), h('th', {}, 'First event'), h('th', {}, 'Stored'))), tbody)),
    status, more);
}

/// A stream's events through GetLogEvents: the newest page first, then
/// older pages above and newer ones below.
export async function stream(groupName, streamName) {
  const tbody = h('tbody');
  const status = h('p', { class: 'muted', 'aria-live': 'polite' });
  const table = h('table', { id: 'stream-events', class: 'log-lines' },
    h('thead', {}, h('tr', {}, h('th', { class: 'time' }, timeHead()), h('th', {}, 'Message'))), tbody);
  const older = h('button', { type: 'button', id: 'stream-older' }, 'Older events');
  const newer = h('button', { type: 'button', id: 'stream-newer' }, 'Newer events');
  let back = null, fwd = null;
  const page = async (token) => {
    const r = await logs('GetLogEvents', { logGroupName: groupName, logStreamName: streamName, limit: 200, startFromHead: false, ...(token ? { nextToken: token } : {}) });
    return { events: r.events || [], back: r.nextBackwardToken, fwd: r.nextForwardToken };
  };
  const trim = (fromTop) => {
    let n = tbody.children.length;
    while (n-- > MAX_LINES) tbody.removeChild(fromTop ? tbody.firstChild : tbody.lastChild);
    table.dataset.lines = String(tbody.children.length);
  };
  const guard = (btn, fn) => btn.addEventListener('click', async () => {
    btn.disabled = true;
    try { await fn(); } catch (e) { clear(status).appendChild(errorBox(e)); }
    btn.disabled = false;
  });
  guard(older, async () => {
    const p = await page(back);
    back = p.back;
    const first = tbody.firstChild;
    for (const ev of p.events) tbody.insertBefore(eventRow(ev), first);
    trim(false);
    status.textContent = p.events.length ? '' : 'No older events.';
  });
  guard(newer, async () => {
    const p = await page(fwd);
    fwd = p.fwd;
    for (const ev of p.events) tbody.appendChild(eventRow(ev));
    trim(true);
    status.textContent = p.events.length ? '' : 'No newer events yet.';
  });
  mount(h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/logs' }, 'Log groups'), ' › ', h('a', { href: route('logs', groupName) }, groupName), ' › ', streamName),
    h('h1', { id: 'log-stream-name' }, streamName), h('div', { class: 'actions' }, older), h('div', { class: 'table-wrap' }, table), h('div', { class: 'actions' }, newer), status);
  status.textContent = 'Loading…';
  const p = await page(null);
  back = p.back; fwd = p.fwd;
  for (const ev of p.events) tbody.appendChild(eventRow(ev));
  trim(true);
  status.textContent = p.events.length ? '' : 'This stream has no events.';
}

// ---- metric filters -------------------------------------------------------------

const UNITS = ['None', 'Count', 'Count/Second', 'Seconds', 'Milliseconds', 'Microseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Bytes/Second', 'Percent'];

/// A name made from the pattern's words, for the form's defaults.
function slug(pattern) {
  const s = (pattern.match(/[A-Za-z0-9]+/g) || []).join('-').slice(0, 60);
  return s || 'all-lines';
}

function metricFilterForm(groupName, pattern, onCreated) {
  const base = slug(pattern);
  const f = {
    name: field('Filter name', h('input', { id: 'mf-name', required: true, value: `${base}-filter` })),
    pattern: field('Filter pattern', h('input', { id: 'mf-pattern', value: pattern }), 'The pattern searched for; empty matches every line.'),
    namespace: field('Metric namespace', h('input', { id: 'mf-namespace', required: true, value: 'LogMetrics' })),
    metric: field('Metric name', h('input', { id: 'mf-metric', required: true, value: `${base}-count` })),
    value: field('Metric value', h('input', { id: 'mf-value', required: true, value: '1' }), 'Published per matching line: a number, or $.field / $name from the pattern.'),
    dflt: field('Default value', h('input', { id: 'mf-default', type: 'number', step: 'any', placeholder: 'none' }), 'Published when a batch has no match (e.g. 0); empty publishes nothing.'),
    unit: field('Unit', h('select', { id: 'mf-unit' }, UNITS.map((u) => h('option', { value: u }, u)))),
  };
  const err = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'mf-create' }, 'Create metric filter');
  const form = h('form', { class: 'wizard', id: 'metric-filter-form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    clear(err);
    const t = {
      metricName: f.metric.input.value.trim(), metricNamespace: f.namespace.input.value.trim(),
      metricValue: f.value.input.value.trim(),
      ...(f.dflt.input.value.trim() !== '' ? { defaultValue: Number(f.dflt.input.value) } : {}),
      ...(f.unit.input.value !== 'None' ? { unit: f.unit.input.value } : {}),
    };
    const p = { logGroupName: groupName, filterName: f.name.input.value.trim(), filterPattern: f.pattern.input.value.trim(), metricTransformations: [t] };
    let ok = true;
    const check = (fl, msg) => { fl.error(msg); if (msg) ok = false; };
    check(f.name, p.filterName ? '' : 'Give the filter a name.');
    check(f.namespace, t.metricNamespace ? '' : 'Give the metric a namespace.');
    check(f.metric, t.metricName ? '' : 'Give the metric a name.');
    check(f.value, t.metricValue ? '' : 'A number or a $field.');
    check(f.dflt, 'defaultValue' in t && !isFinite(t.defaultValue) ? 'A number, or empty.' : '');
    if (!ok) return;
    submit.disabled = true;
    try {
      await logs('PutMetricFilter', p);
      await onCreated({ logGroupName: groupName, filterName: p.filterName, filterPattern: p.filterPattern, ...t });
    } catch (e2) {
      err.appendChild(errorBox(e2));
      submit.disabled = false;
    }
  } },
    h('section', {}, h('h2', {}, 'Create metric filter'),
      h('div', { class: 'grid' }, f.name.wrap, f.pattern.wrap, f.namespace.wrap, f.metric.wrap, f.value.wrap, f.dflt.wrap, f.unit.wrap),
      err, h('div', { class: 'actions' }, submit)));
  return form;
}

function filterTable(groupName, list, formSlot, refresh) {
  if (!list.length) return h('p', { class: 'empty' }, 'No metric filters. Search for the lines to count, then “Create metric filter”.');
  const msg = h('div', { 'aria-live': 'polite' });
  return h('div', {}, h('div', { class: 'table-wrap' }, h('table', { id: 'metric-filter-table' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Filter'), h('th', {}, 'Pattern'), h('th', {}, 'Metric'), h('th', {}, 'Value'), h('th', {}, ''))),
    h('tbody', {}, list.map((mf) => {
      const t = (mf.metricTransformations || [])[0] || {};
      const filter = { logGroupName: groupName, filterName: mf.filterName, filterPattern: mf.filterPattern, ...t };
      return h('tr', { 'data-filter': mf.filterName },
        h('td', {}, mf.filterName), h('td', {}, h('code', {}, mf.filterPattern || '(every line)')),
        h('td', {}, `${t.metricNamespace || ''} · ${t.metricName || ''}`), h('td', {}, t.metricValue ?? ''),
        h('td', { class: 'row-actions' },
          h('button', { type: 'button', class: 'small', onclick: () => { clear(formSlot).appendChild(filterAlarmForm(filter)); formSlot.scrollIntoView({ block: 'nearest' }); } }, 'Create alarm'),
          h('button', { type: 'button', class: 'small danger', onclick: async () => {
            if (!confirm(`Delete metric filter ${mf.filterName}? Its metric stops receiving data.`)) return;
            try { await logs('DeleteMetricFilter', { logGroupName: groupName, filterName: mf.filterName }); await refresh(); } catch (e) { clear(msg).appendChild(errorBox(e)); }
          } }, 'Delete')));
    })))), msg);
}

// ---- an alarm on a filter's metric ---------------------------------------------

const OPS = [['GreaterThanOrEqualToThreshold', '>='], ['GreaterThanThreshold', '>'], ['LessThanOrEqualToThreshold', '<='], ['LessThanThreshold', '<']];
const ALARM_STATS = ['Sum', 'SampleCount', 'Average', 'Maximum', 'Minimum'];
const ALARM_PERIODS = [[10, '10 seconds'], [60, '1 minute'], [300, '5 minutes'], [900, '15 minutes'], [3600, '1 hour'], [86400, '1 day']];

/// The short form after a metric filter: Sum ≥ 1 over one 60 s period by
/// default (one matching line raises it), an optional SNS topic.
function filterAlarmForm(filter) {
  const num = (id, v, attrs = {}) => h('input', { id, type: 'number', value: v, ...attrs });
  const topicSel = h('select', { id: 'fa-topic' }, h('option', { value: '' }, 'No notification'));
  const f = {
    name: field('Alarm name', h('input', { id: 'fa-name', required: true, value: `${filter.metricName}-alarm`.slice(0, 255) })),
    stat: field('Statistic', h('select', { id: 'fa-stat' }, ALARM_STATS.map((s) => h('option', { value: s }, s)))),
    period: field('Period', h('select', { id: 'fa-period' }, ALARM_PERIODS.map(([p, l]) => h('option', { value: p, selected: p === 60 }, l)))),
    op: field('Condition', h('select', { id: 'fa-op' }, OPS.map(([o, s]) => h('option', { value: o }, `${s} threshold`)))),
    threshold: field('Threshold', num('fa-threshold', 1, { step: 'any' })),
    periods: field('Evaluation periods', num('fa-periods', 1, { min: 1, step: 1 })),
    topic: field('Notify SNS topic on ALARM', topicSel),
  };
  paginate(sns, 'ListTopics', {}, 'Topics', 10).then((ts) => {
    for (const t of ts) topicSel.appendChild(h('option', { value: t.TopicArn }, t.TopicArn.split(':').pop()));
    topicSel.dataset.loaded = 'true';
  }).catch(() => { topicSel.dataset.loaded = 'error'; });
  const dims = Object.entries(filter.dimensions || {});
  const err = h('div', { 'aria-live': 'polite' });
  const done = h('div', { id: 'filter-alarm-created' });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'fa-create' }, 'Create alarm');
  const form = h('form', { class: 'wizard', id: 'filter-alarm-form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    clear(err);
    const p = {
      AlarmName: f.name.input.value.trim(),
      AlarmDescription: `Metric filter ${filter.filterName} on log group ${filter.logGroupName} (pattern: ${filter.filterPattern || 'every line'}).`,
      Namespace: filter.metricNamespace, MetricName: filter.metricName, Dimensions: [],
      Statistic: f.stat.input.value, Period: Number(f.period.input.value),
      EvaluationPeriods: Number(f.periods.input.value), Threshold: Number(f.threshold.input.value),
      ComparisonOperator: f.op.input.value,
      // No matching line means no datapoint: that is "nothing wrong".
      TreatMissingData: 'notBreaching',
      ActionsEnabled: true,
      ...(topicSel.value ? { AlarmActions: [topicSel.value] } : {}),
    };
    let ok = true;
    const check = (fl, msg) => { fl.error(msg); if (msg) ok = false; };
    check(f.name, !p.AlarmName ? 'Give the alarm a name.' : p.AlarmName.length > 255 ? 'At most 255 characters.' : '');
    check(f.threshold, f.threshold.input.value.trim() === '' || !isFinite(p.Threshold) ? 'Enter a number.' : '');
    check(f.periods, Number.isInteger(p.EvaluationPeriods) && p.EvaluationPeriods >= 1 ? '' : 'A whole number of at least 1.');
    if (!ok) return;
    submit.disabled = true;
    try {
      await cw('PutMetricAlarm', p);
      clear(done).append(h('p', {}, 'Alarm created: ', h('a', { href: route('alarms', p.AlarmName), id: 'filter-alarm-link' }, p.AlarmName), '.'));
    } catch (e2) {
      err.appendChild(errorBox(e2));
      submit.disabled = false;
    }
  } },
    h('section', {}, h('h2', {}, 'Create alarm from this filter'),
      h('p', { id: 'filter-alarm-metric' }, `Metric ${filter.metricNamespace} · ${filter.metricName}, fed by filter ${filter.filterName}.`),
      dims.length ? h('p', { class: 'warning' }, 'This filter publishes with dimensions; the alarm watches the metric without them.') : null,
      h('div', { class: 'grid' }, f.name.wrap, f.stat.wrap, f.period.wrap, f.op.wrap, f.threshold.wrap, f.periods.wrap, f.topic.wrap),
      err, h('div', { class: 'actions' }, submit), done));
  return form;
}

// ---- Logs Insights -----------------------------------------------------------------

const DEFAULT_QUERY = 'fields @timestamp, @message\n| sort @timestamp desc\n| limit 50';
const POLL_MS = 1000;
const DONE = new Set(['Complete', 'Failed', 'Cancelled', 'Timeout', 'Unknown']);

export async function insights(params) {
  mount(h('h1', {}, 'Logs Insights'), h('p', { class: 'muted' }, 'Loading…'));
  const all = await paginate(logs, 'DescribeLogGroups', {}, 'logGroups', 20);
  const wanted = new Set(params.getAll('group'));
  const picker = h('fieldset', { class: 'group-picker', id: 'insights-groups' }, h('legend', {}, 'Log groups'),
    all.length ? all.map((g) => h('label', {}, h('input', { type: 'checkbox', value: g.logGroupName, 'data-group': g.logGroupName, checked: wanted.has(g.logGroupName) }), ' ', g.logGroupName))
      : h('p', { class: 'empty' }, 'No log groups yet.'));
  const editor = h('textarea', { id: 'insights-query', class: 'code', rows: 6, spellcheck: 'false', 'aria-label': 'Query' });
  editor.value = params.get('query') || DEFAULT_QUERY;
  const range = timeRange(params.get('range') || '1h');
  const run = h('button', { type: 'submit', class: 'primary', id: 'insights-run' }, 'Run query');
  const stop = h('button', { type: 'button', id: 'insights-stop', disabled: true }, 'Stop');
  const status = h('p', { id: 'insights-status', 'aria-live': 'polite', class: 'muted' });
  const stats = h('p', { id: 'insights-stats', class: 'muted' });
  const chartEl = h('div', { class: 'chart', id: 'insights-chart', hidden: true, 'aria-label': 'query results over time' });
  const results = h('div', { class: 'table-wrap', id: 'insights-results' });
  let current = null; // the running query's id
  let seq = 0;

  const finish = () => { current = null; run.disabled = false; stop.disabled = true; };
  const show = (r) => {
    const s = r.statistics || {};
    stats.textContent = `${fmtCount(s.recordsMatched)} records matched · ${fmtCount(s.recordsScanned)} records scanned · ${fmtBytes(s.bytesScanned)} scanned`;
    renderResults(results, chartEl, r.results || []);
  };
  const form = h('form', { id: 'insights-form', onsubmit: async (e) => {
    e.preventDefault();
    const my = ++seq;
    const groupsChosen = [...picker.querySelectorAll('input[type=checkbox]:checked')].map((c) => c.value);
    if (!groupsChosen.length) { status.textContent = 'Choose at least one log group.'; return; }
    const w = range.get();
    if (w.error) { status.textContent = w.error; return; }
    clear(results); clear(stats); chartEl.hidden = true;
    run.disabled = true;
    status.textContent = 'Starting…';
    try {
      // StartQuery takes epoch seconds; the end rounds up to keep its last second.
      const r = await logs('StartQuery', { logGroupNames: groupsChosen, startTime: Math.floor(w.start / 1000), endTime: Math.ceil(w.end / 1000), queryString: editor.value });
      current = r.queryId;
      stop.disabled = false;
      const qs = new URLSearchParams([...groupsChosen.map((g) => ['group', g]), ['range', range.mode()], ['query', editor.value]]).toString();
      history.replaceState(null, '', `#/insights?${qs}`);
      for (;;) {
        if (my !== seq || !document.body.contains(form)) return; // a newer run or another page
        const res = await logs('GetQueryResults', { queryId: r.queryId });
        if (my !== seq) return;
        status.textContent = res.status;
        status.dataset.status = res.status;
        if (DONE.has(res.status)) { show(res); break; }
        await new Promise((ok) => setTimeout(ok, POLL_MS));
      }
    } catch (err) {
      if (my === seq) { clear(status).appendChild(errorBox(err)); delete status.dataset.status; }
    }
    if (my === seq) finish();
  } },
    h('div', { class: 'insights-layout' }, picker,
      h('div', { class: 'insights-editor' }, editor,
        h('div', { class: 'toolbar' }, range.el),
        h('div', { class: 'toolbar' }, run, stop),
        h('p', { class: 'hint' }, 'For example: stats count(*) by bin(5m) · filter @message like /ERROR/ | stats count(*) by @logStream'))));
  stop.addEventListener('click', async () => {
    if (!current) return;
    try { await logs('StopQuery', { queryId: current }); status.textContent = 'Stopping…'; } catch (err) { clear(status).appendChild(errorBox(err)); }
  });
  mount(h('h1', {}, 'Logs Insights'), form, status, stats, chartEl, results);
}

/// Results as a table (columns: every field in order of first appearance,
/// `@ptr` left out — it is an opaque record pointer) and, when a column is a
/// `bin(…)`, a line chart of the numeric columns over it.
function renderResults(slot, chartEl, rows) {
  const cols = [];
  for (const row of rows) for (const { field: name } of row) if (name !== '@ptr' && !cols.includes(name)) cols.push(name);
  const records = rows.map((row) => Object.fromEntries(row.map(({ field: k, value }) => [k, value])));
  clear(slot).appendChild(rows.length
    ? h('table', { class: 'insights-table', 'data-rows': String(rows.length) },
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { 'data-field': c }, c)))),
      h('tbody', {}, records.map((r) => h('tr', { class: 'result-row' }, cols.map((c) => resultCell(c, r[c]))))))
    : h('p', { class: 'empty' }, 'No results.'));
  const bin = cols.find((c) => /^bin\(/.test(c));
  chartEl.hidden = true;
  if (bin && rows.length) binChart(chartEl, records, cols, bin);
}

/// Time columns (`@timestamp`, `@ingestionTime`, `bin(…)`), which Insights
/// prints in UTC, shown in the console's zone like every other time (the
/// query's own text in the title); other fields as they are.
function resultCell(field, v) {
  const ms = /^(@timestamp|@ingestionTime|bin\()/.test(field) ? parseUtc(v) : NaN;
  return isNaN(ms) ? h('td', { 'data-field': field }, v ?? '')
    : h('td', { 'data-field': field, class: 'time', title: `${v} UTC` }, fmtTime(ms));
}

/// Insights prints times as `2026-12-07 06:40:00.000` (UTC).
function binTime(v) {
  const ms = parseUtc(v);
  return isNaN(ms) ? null : ms / 1000;
}

const BIN_UNITS = { ms: 0.001, s: 1, sec: 1, m: 60, min: 60, h: 3600, hr: 3600, d: 86400, w: 604800 };

/// A `bin(5m)` column's width in seconds; from the data when the name does
/// not say (the smallest step between bins), else a minute.
function binSeconds(name, xs) {
  const m = /^bin\(\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*\)$/i.exec(name);
  const unit = m && BIN_UNITS[(m[2] || 's').toLowerCase()];
  if (unit && Number(m[1]) * unit >= 1) return Number(m[1]) * unit;
  let step = Infinity;
  for (let i = 1; i < xs.length; i++) step = Math.min(step, xs[i] - xs[i - 1]);
  return isFinite(step) && step >= 1 ? step : 60;
}

function binChart(el, records, cols, bin) {
  const numeric = cols.filter((c) => c !== bin && records.every((r) => r[c] === undefined || r[c] === '' || isFinite(Number(r[c]))) && records.some((r) => r[c] !== undefined && r[c] !== ''));
  const keys = cols.filter((c) => c !== bin && !numeric.includes(c)); // the other `by` fields
  if (!numeric.length) return;
  const series = new Map(); // label → Map(x → y)
  const xs = new Set();
  for (const r of records) {
    const x = binTime(r[bin]);
    if (x === null) continue;
    xs.add(x);
    const group = keys.map((k) => r[k] ?? '').join(' · ');
    for (const c of numeric) {
      const label = group ? `${c} (${group})` : c;
      if (!series.has(label)) series.set(label, new Map());
      series.get(label).set(x, r[c] === undefined || r[c] === '' ? null : Number(r[c]));
    }
  }
  const x = [...xs].sort((a, b) => a - b);
  if (!x.length) return;
  const labels = [...series.keys()].slice(0, 12); // a legible chart, not every group
  const data = [x, ...labels.map((l) => x.map((t) => series.get(l).get(t) ?? null))];
  el.hidden = false;
  // The console's own chart (zone setting, palette, tooltip, legend, table
  // view), one bin wider each side so a single bin is a point in the middle.
  const w = binSeconds(bin, x);
  draw(el, data, { labels, units: labels.map(() => ''), range: [x[0] - w, x[x.length - 1] + w], height: 260 });
  el.dataset.series = String(labels.length);
}
