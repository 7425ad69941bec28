// A chart's data as a table, for screen readers and for reading exact values:
// a "Table" toggle under each chart (chart.js draw() attaches it). One row per
// time (in the console's chosen zone), one column per series, values with units.

import { h, clear, fmtTime } from './dom.js';
import { fmtValue } from './units.js';

const MAX_ROWS = 2000; // beyond this the newest rows are shown (the chart has them all)

/// `el`: the chart container; `data`: uPlot data [xs, ...ys]; `labels`, `units` per series.
export function attachTable(el, data, { labels, units, caption }) {
  const slot = h('div', { class: 'chart-table', hidden: !el._tableOpen });
  const btn = h('button', { type: 'button', class: 'small table-toggle', 'aria-expanded': String(!!el._tableOpen), onclick: () => {
    el._tableOpen = !el._tableOpen;
    btn.setAttribute('aria-expanded', String(el._tableOpen));
    slot.hidden = !el._tableOpen;
    if (el._tableOpen) fill();
  } }, 'Table');
  const fill = () => {
    const xs = data[0] || [];
    const from = Math.max(0, xs.length - MAX_ROWS);
    const rows = [];
    for (let i = from; i < xs.length; i++) {
      rows.push(h('tr', {}, h('th', { scope: 'row' }, fmtTime(xs[i])),
        labels.map((_, s) => h('td', {}, fmtValue(data[s + 1][i], units[s])))));
    }
    clear(slot).appendChild(h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', {}, `${caption || labels.join(', ')}${from ? ` (newest ${MAX_ROWS} of ${xs.length} points)` : ''}`),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Time'), labels.map((l) => h('th', { scope: 'col' }, l)))),
      h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: labels.length + 1 }, 'No data.'))))));
  };
  if (el._tableOpen) fill();
  el.append(h('div', { class: 'chart-table-bar' }, btn), slot);
}
