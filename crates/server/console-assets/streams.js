// Metric streams (#/streams): list with each stream's details, create,
// start/stop/delete. Loaded by the router only when the page is visited.

import { h, mount, errorBox, field, fmtTime } from './dom.js';
import { cw, paginate } from './api.js';

/// "AWS/EC2: CPUUtilization, NetworkIn" per filter; "all metrics" for a namespace alone.
function filterText(list) {
  return (list || []).map((f) => `${f.Namespace}${f.MetricNames && f.MetricNames.length ? ': ' + f.MetricNames.join(', ') : ' (all metrics)'}`);
}

/// "AWS/EC2: CPUUtilization, NetworkIn" lines from the form → filters (namespace before ':').
function parseFilters(text) {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const i = l.indexOf(':');
    if (i < 0) return { Namespace: l };
    const names = l.slice(i + 1).split(',').map((n) => n.trim()).filter(Boolean);
    return names.length ? { Namespace: l.slice(0, i).trim(), MetricNames: names } : { Namespace: l.slice(0, i).trim() };
  });
}

export async function streams() {
  mount(h('h1', {}, 'Metric streams'), h('p', { class: 'muted' }, 'Loading…'));
  const entries = await paginate(cw, 'ListMetricStreams', {}, 'Entries', 20);
  const details = await Promise.all(entries.map((e) => cw('GetMetricStream', { Name: e.Name }).catch(() => e)));
  const msg = h('div', { 'aria-live': 'polite', id: 'streams-msg' });
  const act = async (fn) => { try { await fn(); await streams(); } catch (e) { msg.replaceChildren(errorBox(e)); } };
  const rows = details.map((s) => h('tr', { 'data-stream': s.Name, 'data-state': s.State },
    h('td', {}, s.Name), h('td', { class: 'stream-state' }, s.State), h('td', {}, s.OutputFormat),
    h('td', {}, h('code', {}, s.FirehoseArn)),
    h('td', {}, s.IncludeFilters && s.IncludeFilters.length ? ['Include: ', filterText(s.IncludeFilters).join('; ')]
      : s.ExcludeFilters && s.ExcludeFilters.length ? ['Exclude: ', filterText(s.ExcludeFilters).join('; ')] : 'All metrics',
      (s.StatisticsConfigurations || []).map((c) => h('div', { class: 'muted stream-stats' }, `+ ${(c.AdditionalStatistics || []).join(', ')} for ${(c.IncludeMetrics || []).map((m) => `${m.Namespace}/${m.MetricName}`).join(', ')}`))),
    h('td', {}, fmtTime(s.CreationDate)), h('td', {}, fmtTime(s.LastUpdateDate)),
    h('td', {},
      s.State === 'running'
        ? h('button', { type: 'button', class: 'small stream-stop', onclick: () => { if (confirm(`Stop metric stream ${s.Name}?`)) act(() => cw('StopMetricStreams', { Names: [s.Name] })); } }, 'Stop')
        : h('button', { type: 'button', class: 'small stream-start', onclick: () => { if (confirm(`Start metric stream ${s.Name}?`)) act(() => cw('StartMetricStreams', { Names: [s.Name] })); } }, 'Start'),
      ' ',
      h('button', { type: 'button', class: 'small danger stream-delete', onclick: () => { if (confirm(`Delete metric stream ${s.Name}?`)) act(() => cw('DeleteMetricStream', { Name: s.Name })); } }, 'Delete'))));

  const f = {
    name: field('Name', h('input', { id: 'stream-name', required: true })),
    firehose: field('Firehose delivery stream ARN', h('input', { id: 'stream-firehose', placeholder: 'arn:aws:firehose:us-east-1:123456789012:deliverystream/NAME' }), 'The delivery stream must be mapped on the server (--firehose NAME=URL).'),
    role: field('Role ARN', h('input', { id: 'stream-role', placeholder: 'arn:aws:iam::123456789012:role/NAME' })),
    format: field('Output format', h('select', { id: 'stream-format' }, ['json', 'opentelemetry1.0'].map((o) => h('option', { value: o }, o)))),
    mode: field('Filter', h('select', { id: 'stream-filter-mode' }, [['include', 'Include only these'], ['exclude', 'Exclude these']].map(([v, t]) => h('option', { value: v }, t)))),
    filters: field('Namespaces', h('textarea', { id: 'stream-filters', rows: 3, placeholder: 'AWS/EC2\nMyApp: Latency, Errors' }), 'One namespace a line, optionally “: metric names” after it. Empty: all metrics.'),
    pcts: field('Additional percentiles (optional)', h('input', { id: 'stream-percentiles', placeholder: 'p50, p99' }), 'Streamed for the metrics named in the include filters, besides the summary statistics.'),
  };
  const formErr = h('div', { id: 'stream-form-error', 'aria-live': 'polite' });
  const form = h('form', { id: 'stream-form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    formErr.replaceChildren();
    const name = f.name.input.value.trim();
    f.name.error(name ? '' : 'Give the stream a name.');
    if (!name) return;
    const filters = parseFilters(f.filters.input.value);
    const p = { Name: name, FirehoseArn: f.firehose.input.value.trim(), RoleArn: f.role.input.value.trim(), OutputFormat: f.format.input.value };
    if (filters.length) p[f.mode.input.value === 'exclude' ? 'ExcludeFilters' : 'IncludeFilters'] = filters;
    // Additional statistics apply to named metrics (IncludeMetrics): those of the include filters.
    const pcts = f.pcts.input.value.split(',').map((x) => x.trim()).filter(Boolean);
    const named = p.IncludeFilters ? p.IncludeFilters.flatMap((x) => (x.MetricNames || []).map((m) => ({ Namespace: x.Namespace, MetricName: m }))) : [];
    f.pcts.error(pcts.length && !named.length ? 'Additional percentiles need metric names in the include filters (“Namespace: Metric, …”).' : '');
    if (pcts.length && !named.length) return;
    if (pcts.length) p.StatisticsConfigurations = [{ IncludeMetrics: named, AdditionalStatistics: pcts }];
    try { await cw('PutMetricStream', p); await streams(); } catch (err) { formErr.replaceChildren(errorBox(err)); }
  } }, h('div', { class: 'grid' }, Object.values(f).map((x) => x.wrap)), formErr, h('button', { type: 'submit', class: 'primary' }, 'Create metric stream'));

  mount(h('h1', {}, 'Metric streams'), msg,
    details.length ? h('div', { class: 'table-wrap' }, h('table', { id: 'streams-table' },
      h('thead', {}, h('tr', {}, ['Name', 'State', 'Format', 'Firehose', 'Filters', 'Created', 'Updated', ''].map((t) => h('th', {}, t)))), h('tbody', {}, rows)))
      : h('p', { class: 'empty', id: 'streams-empty' }, 'No metric streams yet. A stream sends every minute of the chosen metrics to a Firehose HTTP endpoint.'),
    h('h2', {}, 'Create a metric stream'), form);
}
