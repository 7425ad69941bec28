// "Add to dashboard" from any graph: pick a dashboard (or name a new one),
// and the caller's widget is appended below the others. The body's text is
// edited in place, so every other widget stays byte for byte as it was.

import { h, route, clear, errorBox } from './dom.js';
import { cw, paginate } from './api.js';

/// Where the top-level "widgets" array of a dashboard body's JSON text ends
/// (its ']'), so a widget can be appended leaving every other byte as it was.
function widgetsEnd(text) {
  let depth = 0, key = null, last = '', target = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      last = text.slice(start, i + 1);
    } else if (c === ':' && depth === 1) { try { key = JSON.parse(last); } catch { key = null; } }
    else if (c === ',' && depth === 1) key = null;
    else if (c === '{' || c === '[') { depth++; if (c === '[' && depth === 2 && key === 'widgets' && target < 0) target = 2; }
    else if (c === '}' || c === ']') { if (c === ']' && depth === target) return i; depth--; }
  }
  return -1;
}

export function appendWidget(text, make) {
  let body = null;
  try { body = JSON.parse(text || ''); } catch { /* a new or unreadable body */ }
  const ok = body && typeof body === 'object' && !Array.isArray(body);
  const ws = ok && Array.isArray(body.widgets) ? body.widgets : [];
  const y = ws.reduce((m, w) => Math.max(m, (Number(w?.y) || 0) + (Number(w?.height) || 6)), 0);
  const widget = make(y);
  const end = ok && Array.isArray(body.widgets) ? widgetsEnd(text) : -1;
  if (end < 0) return JSON.stringify({ ...(ok ? body : {}), widgets: [...ws, widget] });
  return text.slice(0, end) + (ws.length ? ',' : '') + JSON.stringify(widget) + text.slice(end);
}

/// The form in `root`; `makeWidget(title, y)` builds the widget placed at row `y`.
export async function addToDashboardForm(root, makeWidget) {
  clear(root);
  root.appendChild(h('p', { class: 'muted' }, 'Loading dashboards…'));
  let names = [];
  try { names = (await paginate(cw, 'ListDashboards', {}, 'DashboardEntries', 10)).map((d) => d.DashboardName).sort(); } catch (e) { clear(root).appendChild(errorBox(e)); return; }
  const pick = h('select', { id: 'dash-pick', 'aria-label': 'Dashboard' }, h('option', { value: '' }, 'New dashboard…'), names.map((n) => h('option', { value: n }, n)));
  const name = h('input', { type: 'text', id: 'dash-new-name', placeholder: 'New dashboard name', 'aria-label': 'New dashboard name' });
  const title = h('input', { type: 'text', id: 'dash-widget-title', placeholder: 'Widget title (optional)', 'aria-label': 'Widget title' });
  const out = h('div', { id: 'dash-result', 'aria-live': 'polite' });
  pick.addEventListener('change', () => { name.hidden = !!pick.value; });
  const go = h('button', { type: 'button', class: 'primary', id: 'dash-add', onclick: async () => {
    const target = pick.value || name.value.trim();
    clear(out);
    if (!target) { out.appendChild(h('p', { class: 'field-error' }, 'Pick a dashboard or type a new name.')); return; }
    go.disabled = true;
    try {
      let text = '';
      try { text = (await cw('GetDashboard', { DashboardName: target })).DashboardBody || ''; } catch (e) { if (!/NotFound/i.test(e.code || '')) throw e; }
      await cw('PutDashboard', { DashboardName: target, DashboardBody: appendWidget(text, (y) => makeWidget(title.value.trim(), y)) });
      out.appendChild(h('p', {}, 'Added to ', h('a', { href: route('dashboards', target), id: 'dash-link' }, target), '.'));
      out.scrollIntoView({ block: 'nearest' });
    } catch (e) { out.appendChild(errorBox(e)); } finally { go.disabled = false; }
  } }, 'Add');
  clear(root).append(h('div', { class: 'dash-form' }, pick, name, title, go), out);
  root.scrollIntoView({ block: 'nearest' });
  name.focus();
}
