// Contributor Insights (#/contributors, #/contributors/RULE): rules over log
// groups, create/enable/disable/delete, and a rule's report (top contributors
// and their values per period). Its own page, as in CloudWatch's console
// (Insights › Contributor Insights): a rule spans several log groups, so it
// belongs to no single group's page. Loaded only when the route is visited.

import { h, mount, errorBox, field, route, clear, fmtTime } from './dom.js';
import { cw, paginate } from './api.js';
import { RANGES, draw, align, defaultPeriod } from './chart.js';
import { toDate } from './time.js';

const EXAMPLE = JSON.stringify({
  Schema: { Name: 'CloudWatchLogRule', Version: 1 },
  LogGroupNames: ['/app/*'],
  LogFormat: 'JSON',
  Contribution: { Keys: ['$.client.ip'], ValueOf: '$.bytes', Filters: [{ Match: '$.status', In: [200, 201] }] },
  AggregateOn: 'Sum',
}, null, 2);

/// The log groups a rule's definition names (empty when it is not readable JSON).
function groupsOf(def) {
  try { return JSON.parse(def).LogGroupNames || []; } catch { return []; }
}

/// Partial failures of Enable/Disable/DeleteInsightRules as one error box (null when none).
function failures(r) {
  const f = r.Failures || [];
  return f.length ? h('div', { class: 'error', role: 'alert', id: 'rule-failures' }, f.map((x) => h('p', {}, `${x.FailureResource}: ${x.FailureCode || x.ExceptionType || ''} ${x.FailureDescription || ''}`.trim()))) : null;
}

export async function contributors(rule, params) {
  return rule === undefined ? list() : detail(rule, params);
}

async function list() {
  mount(h('h1', {}, 'Contributor Insights'), h('p', { class: 'muted' }, 'Loading…'));
  const rules = await paginate(cw, 'DescribeInsightRules', {}, 'InsightRules', 20);
  const msg = h('div', { 'aria-live': 'polite', id: 'rules-msg' });
  const act = async (action, name) => {
    try {
      const r = await cw(action, { RuleNames: [name] });
      const fail = failures(r);
      if (fail) { msg.replaceChildren(fail); return; }
      await list();
    } catch (e) { msg.replaceChildren(errorBox(e)); }
  };
  const rows = rules.map((r) => h('tr', { 'data-rule': r.Name, 'data-state': r.State },
    h('td', {}, h('a', { href: route('contributors', r.Name) }, r.Name)), h('td', { class: 'rule-state' }, r.State),
    h('td', {}, groupsOf(r.Definition).join(', ')),
    h('td', {},
      h('button', { type: 'button', class: 'small rule-toggle', onclick: () => act(r.State === 'ENABLED' ? 'DisableInsightRules' : 'EnableInsightRules', r.Name) }, r.State === 'ENABLED' ? 'Disable' : 'Enable'),
      ' ',
      h('button', { type: 'button', class: 'small danger rule-delete', onclick: () => { if (confirm(`Delete rule ${r.Name}?`)) act('DeleteInsightRules', r.Name); } }, 'Delete'))));
  const f = {
    name: field('Rule name', h('input', { id: 'rule-name' })),
    state: field('State', h('select', { id: 'rule-state' }, ['ENABLED', 'DISABLED'].map((s) => h('option', { value: s }, s)))),
    def: field('Rule definition (JSON)', h('textarea', { id: 'rule-definition', rows: 12, class: 'code', spellcheck: 'false' }), 'Schema CloudWatchLogRule/1: log groups (wildcards allowed), JSON or CLF fields, keys, filters, Count or Sum.'),
  };
  f.def.input.value = EXAMPLE;
  const formErr = h('div', { id: 'rule-form-error', 'aria-live': 'polite' });
  const form = h('form', { id: 'rule-form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    formErr.replaceChildren();
    const name = f.name.input.value.trim();
    f.name.error(name ? '' : 'Give the rule a name.');
    if (!name) return;
    try {
      await cw('PutInsightRule', { RuleName: name, RuleState: f.state.input.value, RuleDefinition: f.def.input.value });
      location.hash = route('contributors', name);
    } catch (err) { formErr.replaceChildren(errorBox(err)); }
  } }, f.name.wrap, f.state.wrap, f.def.wrap, formErr, h('button', { type: 'submit', class: 'primary' }, 'Create rule'));
  mount(h('h1', {}, 'Contributor Insights'), msg,
    rules.length ? h('div', { class: 'table-wrap' }, h('table', { id: 'rules-table' },
      h('thead', {}, h('tr', {}, ['Rule', 'State', 'Log groups', ''].map((t) => h('th', {}, t)))), h('tbody', {}, rows)))
      : h('p', { class: 'empty', id: 'rules-empty' }, 'No rules yet. A rule finds the top contributors (IP addresses, users, paths…) in log events.'),
    h('h2', {}, 'Create a rule'), form);
}

async function detail(name, params) {
  const range = Number(params?.get('range')) || 3600;
  const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/contributors' }, 'Contributor Insights'), ' › ', name);
  mount(crumbs, h('h1', {}, name), h('p', { class: 'muted' }, 'Loading…'));
  const rules = await paginate(cw, 'DescribeInsightRules', {}, 'InsightRules', 20);
  const r = rules.find((x) => x.Name === name);
  if (!r) { mount(crumbs, h('h1', {}, name), h('p', { class: 'empty', id: 'rule-missing' }, 'There is no rule with this name (it may have been deleted).')); return; }
  const rangeBtns = h('span', { class: 'ranges', role: 'group', 'aria-label': 'Time range' }, RANGES.map(([secs, label]) =>
    h('button', { type: 'button', 'aria-pressed': String(secs === range), onclick: () => { location.hash = `${route('contributors', name)}?range=${secs}`; } }, label)));
  const report = h('div', { id: 'rule-report' }, h('p', { class: 'muted' }, 'Loading…'));
  mount(crumbs, h('h1', {}, name), h('p', {}, 'State: ', h('span', { id: 'rule-detail-state' }, r.State), ' · Log groups: ', groupsOf(r.Definition).join(', ')),
    h('div', { class: 'controls' }, rangeBtns), report,
    h('h2', {}, 'Definition'), h('pre', { class: 'cli', id: 'rule-definition-shown' }, (() => { try { return JSON.stringify(JSON.parse(r.Definition), null, 2); } catch { return r.Definition; } })()));
  const period = defaultPeriod(range);
  const end = Math.ceil(Date.now() / 1000 / period) * period, start = end - range;
  let rep;
  try {
    rep = await cw('GetInsightRuleReport', { RuleName: name, StartTime: start, EndTime: end, Period: period, MaxContributorCount: 10, Metrics: ['UniqueContributors'] });
  } catch (e) { report.replaceChildren(errorBox(e)); return; }
  const contribs = rep.Contributors || [];
  const keys = rep.KeyLabels || [];
  const chartEl = h('div', { class: 'chart', id: 'rule-chart', 'aria-label': 'top contributors graph' });
  clear(report).append(
    h('p', { id: 'rule-summary' }, `${rep.AggregationStatistic || ''} over ${fmtTime(start)} – ${fmtTime(end)}: ${rep.AggregateValue ?? 0} in total, ${rep.ApproximateUniqueCount ?? 0} unique contributors.`),
    contribs.length ? h('div', { class: 'table-wrap' }, h('table', { id: 'contributors-table' },
      h('thead', {}, h('tr', {}, h('th', {}, '#'), keys.map((k) => h('th', {}, k)), h('th', {}, 'Value'))),
      h('tbody', {}, contribs.map((c, i) => h('tr', { 'data-keys': JSON.stringify(c.Keys), 'data-value': String(c.ApproximateAggregateValue) },
        h('td', {}, String(i + 1)), (c.Keys || []).map((k) => h('td', {}, k)), h('td', {}, String(c.ApproximateAggregateValue)))))))
      : h('p', { class: 'empty', id: 'contributors-empty' }, 'No contributors in this time range.'),
    contribs.length ? chartEl : null);
  if (contribs.length) {
    const series = contribs.map((c) => ({ label: (c.Keys || []).join(', '), ts: (c.Datapoints || []).map((d) => toDate(d.Timestamp).getTime() / 1000), vs: (c.Datapoints || []).map((d) => d.ApproximateValue) }));
    draw(chartEl, align(series), { labels: series.map((s) => s.label), range: [start, end], height: 280 });
  }
}
