// The console's entry: loads the session, then renders the page of the
// current hash route (#/, #/metrics/NS/DIMS, #/alarms/NAME, #/logs/GROUP/STREAM, ...).

import { h, mount, errorBox } from './dom.js';
import { loadSession } from './api.js';
import * as pages from './pages.js';
import * as metrics from './metrics.js';
import * as alarms from './alarms.js';
import * as admin from './admin.js';
import * as dashboards from './dashboards.js';
import * as logs from './logs.js';

function parse() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  const parts = path.split('/').filter((p, i) => p !== '' || i === 0).map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  return { parts: parts[0] === '' ? [] : parts, params: new URLSearchParams(query) };
}

let renders = 0;

// On a phone the nav is one row that scrolls sideways: keep the current page's link in view.
function showCurrentNav() {
  const nav = document.getElementById('nav');
  const cur = nav.querySelector('a[aria-current="true"]');
  if (!cur || nav.scrollWidth <= nav.clientWidth) return;
  nav.scrollLeft += cur.getBoundingClientRect().left - nav.getBoundingClientRect().left - 24;
}

// "Skip to content": focus the page itself (following href="#main" would be a route change).
document.getElementById('skip-link').addEventListener('click', (e) => {
  e.preventDefault();
  document.getElementById('main').focus();
});

async function render() {
  // After a route change (not the first load), move focus to the page so
  // keyboard and screen-reader users start at its top.
  if (renders++ > 0) document.getElementById('main').focus({ preventScroll: true });
  const { parts, params } = parse();
  const [page, a, b] = parts;
  document.querySelectorAll('#nav a').forEach((l) => l.setAttribute('aria-current', String(l.getAttribute('href') === `#/${page || ''}`)));
  showCurrentNav();
  try {
    switch (page) {
      case undefined: return await pages.overview();
      case 'metrics': return await metrics.metrics(a, b, params);
      case 'alarms': return a === undefined ? await alarms.list(params) : b === 'edit' ? await alarms.create(a) : await alarms.detail(a);
      case 'create-alarm': return await alarms.create();
      case 'dashboards': return a === undefined ? await dashboards.list() : await dashboards.view(a, params);
      case 'dashboard-edit': return await dashboards.edit(a);
      case 'logs': return a === undefined ? await logs.groups(params) : b === undefined ? await logs.group(a, params) : await logs.stream(a, b);
      case 'insights': return await logs.insights(params);
      // Pages loaded on first visit (not part of the first load).
      case 'streams': return await (await import('./streams.js')).streams();
      case 'contributors': return await (await import('./contributors.js')).contributors(a, params);
      case 'topics': return await admin.topics();
      case 'mailbox': return await pages.mailbox(a);
      case 'keys': return await admin.keys();
      default: mount(h('h1', {}, 'Not found'), h('p', {}, 'No such page. '), h('a', { href: '#/' }, 'Overview'));
    }
  } catch (e) {
    mount(h('h1', {}, 'Something went wrong'), errorBox(e));
  } finally {
    document.body.dataset.route = location.hash || '#/';
    document.body.dataset.rendered = String(Number(document.body.dataset.rendered || 0) + 1);
  }
}

async function boot() {
  const s = await loadSession();
  if (!s) return;
  document.getElementById('who').textContent = `${s.Name} (${s.Policy})`;
  document.getElementById('logout-csrf').value = s.CsrfToken;
  window.addEventListener('hashchange', render);
  await render();
}

boot();
