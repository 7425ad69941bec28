// Overview, metrics browser and the local mailbox.

import { h, mount, route, fmtTime, stateBadge, errorBox, linkify, clear } from './dom.js';
import { cw, admin, paginate, session } from './api.js';
import { graphPanel, metricLabel } from './chart.js';

const AGENT_HINT = 'No metrics yet — create an agent key on the Access keys page and start the agent with `stratus agent --config agent.json`, or put data with `aws cloudwatch put-metric-data`.';

export async function overview() {
  mount(h('h1', {}, 'Overview'), h('p', { class: 'muted' }, 'Loading…'));
  const [alarms, history, metrics] = await Promise.all([
    Promise.all([
      paginate(cw, 'DescribeAlarms', {}, 'MetricAlarms', 10),
      paginate(cw, 'DescribeAlarms', { AlarmTypes: ['CompositeAlarm'] }, 'CompositeAlarms', 10),
    ]).then(([m, c]) => m.concat(c)),
    cw('DescribeAlarmHistory', { HistoryItemType: 'StateUpdate', MaxRecords: 20, ScanBy: 'TimestampDescending' }),
    paginate(cw, 'ListMetrics', {}, 'Metrics', 10),
  ]);
  const counts = { ALARM: 0, INSUFFICIENT_DATA: 0, OK: 0 };
  for (const a of alarms) counts[a.StateValue] = (counts[a.StateValue] || 0) + 1;
  const hosts = new Map(); // InstanceId → a namespace it reports in
  for (const m of metrics) for (const d of m.Dimensions || []) if (d.Name === 'InstanceId' && !hosts.has(d.Value)) hosts.set(d.Value, m.Namespace);
  const items = history.AlarmHistoryItems || [];
  mount(
    h('h1', {}, 'Overview'),
    h('section', { class: 'cards' },
      Object.entries(counts).map(([s, n]) => h('a', { class: 'card', href: `#/alarms?state=${s}`, 'data-state': s }, stateBadge(s), h('strong', { class: 'count' }, String(n)), ' alarms')),
      h('div', { class: 'card' }, h('strong', { class: 'count', id: 'hosts-count' }, String(hosts.size)), ' hosts reporting')),
    h('h2', {}, 'Recent transitions'),
    items.length ? h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'When'), h('th', {}, 'Alarm'), h('th', {}, 'Summary'))),
      h('tbody', {}, items.map((i) => h('tr', {}, h('td', {}, fmtTime(i.Timestamp)), h('td', {}, h('a', { href: route('alarms', i.AlarmName) }, i.AlarmName)), h('td', {}, i.HistorySummary)))))
      : h('p', { class: 'empty' }, 'No alarm has changed state yet.'),
    h('h2', {}, 'Hosts'),
    hosts.size ? h('ul', { class: 'hosts' }, [...hosts].sort().map(([x, ns]) => h('li', {}, h('a', { href: route('metrics', ns) + '?q=' + encodeURIComponent(x) }, x), h('span', { class: 'muted' }, ` in ${ns}`))))
      : h('p', { class: 'empty' }, metrics.length ? 'No metric carries an InstanceId dimension.' : AGENT_HINT),
  );
}

function matches(m, q) {
  return !q || m.MetricName.toLowerCase().includes(q) || (m.Dimensions || []).some((d) => d.Value.toLowerCase().includes(q));
}

function dimKey(m) { return (m.Dimensions || []).map((d) => d.Name).sort().join(', '); }

/// Selected metrics survive page changes (e.g. on to "Create alarm").
export const selection = {
  get() { try { return JSON.parse(sessionStorage.getItem('stratus.selection') || '[]'); } catch { return []; } },
  set(list) { sessionStorage.setItem('stratus.selection', JSON.stringify(list)); },
};

function sameMetric(a, b) { return a.Namespace === b.Namespace && a.MetricName === b.MetricName && JSON.stringify(a.Dimensions || []) === JSON.stringify(b.Dimensions || []); }

const NO_DIMS = '(none)';

export async function metrics(ns, dimset, query) {
  if (dimset === NO_DIMS) dimset = '';
  const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/metrics' }, 'Metrics'),
    ns !== undefined ? [' › ', h('a', { href: route('metrics', ns) }, ns)] : null,
    dimset !== undefined ? [' › ', h('span', {}, dimset || '(no dimensions)')] : null);
  mount(h('h1', {}, 'Metrics'), crumbs, h('p', { class: 'muted' }, 'Loading…'));
  if (ns === undefined) {
    const all = await paginate(cw, 'ListMetrics', {}, 'Metrics', 20);
    const byNs = new Map();
    for (const m of all) byNs.set(m.Namespace, (byNs.get(m.Namespace) || 0) + 1);
    mount(h('h1', {}, 'Metrics'), crumbs,
      byNs.size ? h('ul', { class: 'tiles', id: 'namespaces' }, [...byNs].sort().map(([n, c]) => h('li', {}, h('a', { href: route('metrics', n), 'data-namespace': n }, h('strong', {}, n), h('span', { class: 'muted' }, ` ${c} metrics`)))))
        : h('p', { class: 'empty' }, AGENT_HINT));
    return;
  }
  const all = await paginate(cw, 'ListMetrics', { Namespace: ns }, 'Metrics', 50);
  if (dimset === undefined) {
    // With ?q= (e.g. a host from the overview) only the metrics matching it count.
    const q = (query || '').toLowerCase();
    const sets = new Map();
    for (const m of all) if (matches(m, q)) sets.set(dimKey(m), (sets.get(dimKey(m)) || 0) + 1);
    const suffix = q ? '?q=' + encodeURIComponent(query) : '';
    mount(h('h1', {}, 'Metrics'), crumbs,
      sets.size ? h('ul', { class: 'tiles', id: 'dimsets' }, [...sets].sort().map(([k, c]) => h('li', {}, h('a', { href: route('metrics', ns, k || NO_DIMS) + suffix, 'data-dimset': k }, h('strong', {}, k || '(no dimensions)'), h('span', { class: 'muted' }, ` ${c} metrics`)))))
        : h('p', { class: 'empty' }, q ? `No metric in ${ns} matches “${query}”.` : `No metrics in namespace ${ns}.`));
    return;
  }
  const rows = all.filter((m) => dimKey(m) === dimset)
    .sort((a, b) => metricLabel(a).localeCompare(metricLabel(b)));
  const dimNames = dimset ? dimset.split(', ') : [];
  let selected = selection.get().filter((s) => s.Namespace === ns);
  const search = h('input', { type: 'search', id: 'metric-search', placeholder: 'Search metric names and dimension values', 'aria-label': 'Search metrics', value: query || '' });
  const tbody = h('tbody');
  const graphSlot = h('div', { id: 'graph-slot' });
  const actions = h('div', { class: 'actions' });
  const render = () => {
    const q = search.value.trim().toLowerCase();
    clear(tbody);
    const shown = rows.filter((m) => matches(m, q));
    for (const m of shown) {
      const dv = Object.fromEntries((m.Dimensions || []).map((d) => [d.Name, d.Value]));
      const cb = h('input', { type: 'checkbox', 'aria-label': `Graph ${metricLabel(m)}`, checked: selected.some((s) => sameMetric(s, m)), onchange: () => {
        selected = cb.checked ? [...selected.filter((s) => !sameMetric(s, m)), m] : selected.filter((s) => !sameMetric(s, m));
        selection.set(selected); showGraph();
      } });
      tbody.appendChild(h('tr', { 'data-metric': m.MetricName }, h('td', {}, cb), dimNames.map((n) => h('td', {}, dv[n] ?? '')), h('td', { class: 'metric-name' }, m.MetricName)));
    }
    if (!shown.length) tbody.appendChild(h('tr', {}, h('td', { colspan: dimNames.length + 2, class: 'empty' }, 'No metric matches the search.')));
  };
  const showGraph = () => {
    clear(graphSlot); clear(actions);
    if (!selected.length) { graphSlot.appendChild(h('p', { class: 'muted' }, 'Tick metrics to graph them together.')); return; }
    graphSlot.appendChild(graphPanel({ metrics: selected }));
    actions.appendChild(h('a', { class: 'button primary', id: 'create-alarm', href: '#/create-alarm', 'aria-disabled': String(selected.length !== 1),
      onclick: (e) => { if (selected.length !== 1) { e.preventDefault(); alert('Select exactly one metric to create an alarm on it.'); } } }, 'Create alarm'));
    actions.appendChild(h('button', { type: 'button', onclick: () => { selected = []; selection.set([]); render(); showGraph(); } }, 'Clear selection'));
  };
  search.addEventListener('input', render);
  mount(h('h1', {}, 'Metrics'), crumbs, search,
    h('div', { class: 'table-wrap' }, h('table', { id: 'metrics-table' }, h('thead', {}, h('tr', {}, h('th', {}, ''), dimNames.map((n) => h('th', {}, n)), h('th', {}, 'Metric'))), tbody)),
    actions, graphSlot);
  render(); showGraph();
}

export async function mailbox(id) {
  if (id === undefined) {
    mount(h('h1', {}, 'Mailbox'), h('p', { class: 'muted' }, 'Loading…'));
    const r = await admin('ListMail', {});
    const msgs = r.Messages || [];
    mount(h('h1', {}, 'Mailbox'),
      h('p', { class: 'muted' }, 'Notification emails land here when the server has no SMTP relay (--smtp-url).'),
      msgs.length ? h('table', { id: 'mail-table' }, h('thead', {}, h('tr', {}, h('th', {}, 'Date'), h('th', {}, 'To'), h('th', {}, 'Subject'))),
        h('tbody', {}, msgs.map((m) => h('tr', {}, h('td', {}, fmtTime(m.date_ms)), h('td', {}, m.to), h('td', {}, h('a', { href: route('mailbox', m.id), class: 'mail-subject' }, m.subject || '(no subject)'))))))
        : h('p', { class: 'empty' }, 'The mailbox is empty.'),
      r.Total > msgs.length ? h('p', { class: 'muted' }, `Showing the newest ${msgs.length} of ${r.Total}.`) : null);
    return;
  }
  const m = await admin('GetMail', { Id: id });
  mount(h('nav', { class: 'crumbs' }, h('a', { href: '#/mailbox' }, 'Mailbox'), ' › message'),
    h('h1', { id: 'mail-subject' }, m.Subject || '(no subject)'),
    h('dl', { class: 'kv' }, h('dt', {}, 'From'), h('dd', {}, m.From), h('dt', {}, 'To'), h('dd', {}, m.To), h('dt', {}, 'Date'), h('dd', {}, fmtTime(m.DateMs))),
    h('pre', { class: 'mail-text', id: 'mail-text' }, linkify(m.Text || '')));
}

export { session };
