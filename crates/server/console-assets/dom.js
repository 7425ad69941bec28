// Element building without HTML strings: every text (user data included)
// becomes a text node, so nothing a metric name or description holds can be
// interpreted as markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function mount(...children) {
  const main = clear(document.getElementById('main'));
  append(main, children);
  return main;
}

/// `#/a/b` links with each part URL-encoded.
export function route(...parts) {
  return '#/' + parts.map(encodeURIComponent).join('/');
}

// Every timestamp on the console goes through fmtTime (time.js: the Local/UTC setting, zone named).
export { fmtTime, useUtc } from './time.js';
import { rewriteReasonTimes } from './time.js';

/// An alarm's state reason with CloudWatch's `(dd/MM/yy HH:mm:ss)` UTC times in
/// the chosen zone; the raw text stays in the title.
export function reasonText(text, attrs = {}) {
  const shown = rewriteReasonTimes(text);
  return h('span', { ...attrs, title: shown !== text ? text : undefined }, shown);
}

export function stateBadge(state) {
  const cls = { OK: 'ok', ALARM: 'alarm', INSUFFICIENT_DATA: 'insufficient' }[state] || '';
  return h('span', { class: `badge ${cls}`, 'data-state': state }, state === 'INSUFFICIENT_DATA' ? 'INSUFFICIENT DATA' : state);
}

export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, err && err.message ? `${err.code ? err.code + ': ' : ''}${err.message}` : String(err));
}

/// A labelled form field with its error slot: returns {wrap, input, error(msg)}.
export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  const err = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('p', { class: 'hint' }, hint) : null, err);
  return {
    wrap, input,
    error(msg) { err.textContent = msg || ''; err.hidden = !msg; input.setAttribute('aria-invalid', msg ? 'true' : 'false'); },
  };
}

/// URLs in plain text become links (http/https only); the rest stays text.
export function linkify(text) {
  const out = [];
  const re = /https?:\/\/[^\s<>"]+/g;
  let last = 0, m;
  while ((m = re.exec(text))) {
    out.push(text.slice(last, m.index));
    out.push(h('a', { href: m[0], target: '_blank', rel: 'noopener noreferrer' }, m[0]));
    last = m.index + m[0].length;
  }
  out.push(text.slice(last));
  return out;
}

export function shellQuote(s) {
  return /^[A-Za-z0-9_\-.,:/=@%+]+$/.test(s) ? s : `'${String(s).replace(/'/g, `'\\''`)}'`;
}
