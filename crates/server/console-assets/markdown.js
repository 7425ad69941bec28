// CloudWatch's markdown subset for text widgets, rendered by building DOM
// nodes (never innerHTML): headings, paragraphs, **bold**, *italic*,
// `code`, fenced code blocks, lists, links (http/https/# only; CloudWatch's
// [button:Label](url) and [button:primary:Label](url) become button links),
// tables and horizontal rules. Everything else, raw HTML included, stays
// text.

import { h } from './dom.js';

const SAFE_HREF = /^(https?:\/\/|#)/i;

// Inline tokens, earliest match wins; on a tie the first listed wins.
const INLINE = [
  ['code', /`([^`]+)`/],
  ['link', /\[([^\]]+)\]\(([^)\s]+)\)/],
  ['strong', /\*\*(.+?)\*\*|__(.+?)__/],
  ['em', /\*([^*\s](?:[^*]*[^*\s])?)\*|\b_([^_]+)_\b/],
];

export function inline(text) {
  const out = [];
  let rest = text;
  while (rest) {
    let best = null;
    for (const [kind, re] of INLINE) {
      const m = re.exec(rest);
      if (m && (!best || m.index < best.m.index)) best = { kind, m };
    }
    if (!best) { out.push(rest); break; }
    const { kind, m } = best;
    if (m.index) out.push(rest.slice(0, m.index));
    if (kind === 'code') out.push(h('code', {}, m[1]));
    else if (kind === 'strong') out.push(h('strong', {}, inline(m[1] ?? m[2])));
    else if (kind === 'em') out.push(h('em', {}, inline(m[1] ?? m[2])));
    else out.push(link(m[1], m[2], m[0]));
    rest = rest.slice(m.index + m[0].length);
  }
  return out;
}

function link(label, href, source) {
  if (!SAFE_HREF.test(href)) return source; // shown as the text it was
  const btn = /^button:(?:(primary):)?(.*)$/.exec(label);
  const attrs = { href };
  if (btn) attrs.class = btn[1] ? 'button primary' : 'button';
  if (!href.startsWith('#')) { attrs.target = '_blank'; attrs.rel = 'noopener noreferrer'; }
  return h('a', attrs, inline(btn ? btn[2] : label));
}

const cells = (line) => line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());
const isTableSep = (line) => /^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$/.test(line) && line.includes('-');
const LIST = /^\s*([-*+]|\d+[.)])\s+(.*)$/;

/// The markdown as a DocumentFragment of safe nodes.
export function renderMarkdown(src) {
  const lines = String(src ?? '').replace(/\r\n?/g, '\n').split('\n');
  const frag = document.createDocumentFragment();
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) { i++; continue; }
    let m;
    if ((m = /^\s*(```|~~~)/.exec(line))) {
      const fence = m[1], body = [];
      for (i++; i < lines.length && !lines[i].trim().startsWith(fence); i++) body.push(lines[i]);
      i++;
      frag.appendChild(h('pre', { class: 'md-code' }, h('code', {}, body.join('\n'))));
    } else if ((m = /^\s*(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line))) {
      frag.appendChild(h(`h${m[1].length}`, {}, inline(m[2])));
      i++;
    } else if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      frag.appendChild(h('hr', {}));
      i++;
    } else if (line.includes('|') && i + 1 < lines.length && isTableSep(lines[i + 1])) {
      const head = cells(line);
      const rows = [];
      for (i += 2; i < lines.length && lines[i].includes('|') && lines[i].trim(); i++) rows.push(cells(lines[i]));
      frag.appendChild(h('div', { class: 'table-wrap' }, h('table', { class: 'md-table' },
        h('thead', {}, h('tr', {}, head.map((c) => h('th', {}, inline(c))))),
        h('tbody', {}, rows.map((r) => h('tr', {}, head.map((_, j) => h('td', {}, inline(r[j] ?? '')))))))));
    } else if ((m = LIST.exec(line))) {
      const ordered = /\d/.test(m[1]);
      const items = [];
      while (i < lines.length && (m = LIST.exec(lines[i])) && /\d/.test(m[1]) === ordered) {
        let text = m[2];
        // Indented continuation lines belong to the item.
        for (i++; i < lines.length && /^\s{2,}\S/.test(lines[i]) && !LIST.test(lines[i]); i++) text += ' ' + lines[i].trim();
        items.push(h('li', {}, inline(text)));
      }
      frag.appendChild(h(ordered ? 'ol' : 'ul', {}, items));
    } else {
      const para = [];
      while (i < lines.length && lines[i].trim() && !/^\s*(#{1,6}\s|```|~~~)/.test(lines[i]) && !LIST.test(lines[i])
        && !(lines[i].includes('|') && i + 1 < lines.length && isTableSep(lines[i + 1]))) {
        para.push(lines[i].trim());
        i++;
      }
      if (!para.length) para.push(lines[i++].trim()); // never stall
      const p = h('p', {});
      para.forEach((t, k) => { if (k) p.appendChild(h('br', {})); p.append(...inline(t)); });
      frag.appendChild(p);
    }
  }
  return frag;
}
