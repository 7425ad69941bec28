// Overview and the local mailbox (the metrics browser is metrics.js).

import { h, mount, route, fmtTime, stateBadge, errorBox, linkify, clear } from './dom.js';
import { cw, admin, paginate, session } from './api.js';
export { selection } from './metrics.js'; // where alarms.js looks for it

const AGENT_HINT = 'No metrics yet — create an agent key on the Access keys page and start the agent with `stratus agent --config agent.json`, or put data with `aws cloudwatch put-metric-data`.';

export async function overview() {
  mount(h('h1', {}, 'Overview'), h('p', { class: 'muted' }, 'Loading…'));
  const [alarms, history, metrics] = await Promise.all([
    Promise.all([
      paginate(cw, 'DescribeAlarms', {}, 'MetricAlarms', 10),
      paginate(cw, 'DescribeAlarms', { AlarmTypes: ['CompositeAlarm'] }, 'CompositeAlarms', 10),
    ]).then(([m, c]) => m.concat(c)),
    cw('DescribeAlarmHistory', { AlarmTypes: ['MetricAlarm', 'CompositeAlarm'], HistoryItemType: 'StateUpdate', MaxRecords: 20, ScanBy: 'TimestampDescending' }),
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
