// The console's one time setting: Local or UTC (localStorage `stratus.tz`,
// 'local' | 'utc'), chosen in the header. Every timestamp is written in ISO
// order with its zone named — `2026-12-06 15:03:05 UTC` or
// `2026-12-06 10:03:05 UTC−05:00` — so two people reading one screen (or a
// screenshot) agree on the instant, whatever their locale.

const KEY = 'stratus.tz';

export function useUtc() {
  try { return (localStorage.getItem(KEY) || '').toLowerCase() === 'utc'; } catch { return false; }
}

export function setZone(z) {
  try { localStorage.setItem(KEY, z === 'utc' ? 'utc' : 'local'); } catch { /* storage off: the switch still redraws once */ }
}

const p2 = (n) => String(n).padStart(2, '0');

/// The zone's name for a date: "UTC", or the local offset as "UTC−05:00" / "UTC+05:30".
export function zoneLabel(d, utc = useUtc()) {
  const off = utc ? 0 : -d.getTimezoneOffset();
  if (off === 0) return 'UTC'; // a browser whose local zone is UTC right now
  return `UTC${off < 0 ? '\u2212' : '+'}${p2(Math.floor(Math.abs(off) / 60))}:${p2(Math.abs(off) % 60)}`;
}

/// Epoch seconds (< 1e11), epoch ms, an ISO string or a Date → Date (invalid when unreadable).
export function toDate(v) {
  if (v instanceof Date) return v;
  return typeof v === 'number' ? new Date(v < 1e11 ? v * 1000 : v) : new Date(v);
}

/// `2026-12-06 15:03:05 UTC` in the chosen zone; '' for nothing, the input as text when unreadable.
export function fmtTime(v, { secs = true, zone = true, utc = useUtc() } = {}) {
  if (v === undefined || v === null || v === '') return '';
  const d = toDate(v);
  if (isNaN(d)) return String(v);
  const g = utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
  return `${g[0]}-${p2(g[1])}-${p2(g[2])} ${p2(g[3])}:${p2(g[4])}${secs ? ':' + p2(g[5]) : ''}${zone ? ' ' + zoneLabel(d, utc) : ''}`;
}

/// CloudWatch's state reasons carry times as `(06/12/26 15:03:00)` — dd/MM/yy, UTC.
/// Rewritten into the chosen zone's ISO form for display.
export function rewriteReasonTimes(text) {
  return String(text || '').replace(/\((\d{2})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})\)/g, (all, dd, mm, yy, hh, mi, ss) => {
    const ms = Date.UTC(2000 + Number(yy), Number(mm) - 1, Number(dd), Number(hh), Number(mi), Number(ss));
    return isNaN(ms) ? all : `(${fmtTime(ms)})`;
  });
}

// The header switch (index.html #tz-switch): reflects the setting, and a change
// re-renders the current page (app.js renders on hashchange).
function wireSwitch() {
  const sel = document.getElementById('tz-switch');
  if (!sel || sel.dataset.wired) return;
  sel.dataset.wired = '1';
  sel.value = useUtc() ? 'utc' : 'local';
  sel.addEventListener('change', () => {
    setZone(sel.value);
    document.documentElement.dataset.tz = sel.value;
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  });
  document.documentElement.dataset.tz = sel.value;
}
if (typeof document !== 'undefined') {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', wireSwitch); else wireSwitch();
}

/// Epoch seconds → a `datetime-local` input's value, in the chosen zone.
export function toInputValue(t, utc = useUtc()) {
  return fmtTime(t * 1000, { secs: false, zone: false, utc }).replace(' ', 'T');
}

/// A `datetime-local` input's value, read in the chosen zone → epoch seconds (NaN when empty).
export function fromInputValue(v, utc = useUtc()) {
  return Date.parse(utc ? `${v}Z` : v) / 1000;
}

/// `YYYY-MM-DD HH:MM[:SS]` as a person types it, read in the chosen zone →
/// epoch ms; NaN when unreadable or not a real date (2026-02-31).
export function parseTyped(text, utc = useUtc()) {
  const m = /^\s*(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?\s*$/.exec(text || '');
  if (!m) return NaN;
  const [y, mo, d, hh, mi, ss = 0] = m.slice(1).map((x) => Number(x ?? 0));
  const ms = utc ? Date.UTC(y, mo - 1, d, hh, mi, ss) : new Date(y, mo - 1, d, hh, mi, ss).getTime();
  // Date rolls 2026-02-31 over into March: a round trip refuses it.
  const back = fmtTime(ms, { secs: false, zone: false, utc });
  return back === `${m[1]}-${m[2]}-${m[3]} ${m[4]}:${m[5]}` ? ms : NaN;
}
