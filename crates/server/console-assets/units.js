// Units and times for graphs. A CloudWatch unit (Bytes, Bytes/Second,
// Count, Seconds, Milliseconds, Percent, …) maps to a kind with a base unit
// and a ladder of display steps; values are shown scaled to the step that
// fits them ("114.4 MiB", "1.2k/s", "350 ms"). Times are ISO-like
// ("2026-12-06 15:03 CET"), always naming their zone.

const K = 1024;
const LADDERS = {
  bytes: [[1, ' B'], [K, ' KiB'], [K ** 2, ' MiB'], [K ** 3, ' GiB'], [K ** 4, ' TiB'], [K ** 5, ' PiB']],
  bits: [[1, ' b'], [1e3, ' kb'], [1e6, ' Mb'], [1e9, ' Gb'], [1e12, ' Tb']],
  count: [[1, ''], [1e3, 'k'], [1e6, 'M'], [1e9, 'G'], [1e12, 'T']],
  seconds: [[1e-6, ' µs'], [1e-3, ' ms'], [1, ' s'], [60, ' min'], [3600, ' h'], [86400, ' d']],
  percent: [[1, '%']],
};
// unit → [kind, factor to the kind's base]
const UNITS = {
  Bytes: ['bytes', 1], Kilobytes: ['bytes', K], Megabytes: ['bytes', K ** 2], Gigabytes: ['bytes', K ** 3], Terabytes: ['bytes', K ** 4],
  Bits: ['bits', 1], Kilobits: ['bits', 1e3], Megabits: ['bits', 1e6], Gigabits: ['bits', 1e9], Terabits: ['bits', 1e12],
  Count: ['count', 1], None: ['count', 1], '': ['count', 1],
  Seconds: ['seconds', 1], Milliseconds: ['seconds', 1e-3], Microseconds: ['seconds', 1e-6],
  Percent: ['percent', 1],
};

/// { kind, factor, perSec, key } for a CloudWatch unit ("Bytes/Second" → bytes per second).
export function unitInfo(unit) {
  const u = unit || '';
  const perSec = u.endsWith('/Second');
  const [kind, factor] = UNITS[perSec ? u.slice(0, -7) : u] || UNITS[''];
  return { kind, factor, perSec, key: kind + (perSec ? '/s' : '') };
}

/// A unit guessed from a metric's name, for when no datapoint says it.
export function inferUnit(name) {
  const n = String(name || '');
  if (/bytes?_?(per_?sec|\/s)|bytespersec|throughput_bytes/i.test(n)) return 'Bytes/Second';
  if (/bytes?$|bytes?_|_bytes?|Bytes/i.test(n)) return 'Bytes';
  if (/percent|_pct$|utili[sz]ation/i.test(n)) return 'Percent';
  if (/(_ms|millis|milliseconds)$/i.test(n)) return 'Milliseconds';
  if (/(_seconds|_secs|latency|duration)$/i.test(n)) return 'Seconds';
  if (/count$|_total$|requests$/i.test(n)) return 'Count';
  return '';
}

function step(kind, abs) {
  const ladder = LADDERS[kind] || LADDERS.count;
  let s = ladder[kind === 'seconds' ? 2 : 0];
  if (!(abs > 0) || !isFinite(abs)) return s;
  for (const st of ladder) if (abs >= st[0] * 0.9995) s = st;
  return s;
}

function suffix(info, s) { return s[1] + (info.perSec ? '/s' : ''); }

function trim(x, decimals, min = decimals) {
  return x.toLocaleString('en-US', { minimumFractionDigits: min, maximumFractionDigits: decimals, useGrouping: false });
}

/// One value (in the unit's base, i.e. already multiplied by the factor) scaled for reading.
export function fmtValue(v, unit) {
  if (v === null || v === undefined || isNaN(v)) return '–';
  const info = unitInfo(unit);
  const s = step(info.kind, Math.abs(v));
  const x = v / s[0];
  const a = Math.abs(x);
  const d = a === 0 || a >= 1000 ? 0 : a >= 10 ? 1 : 2;
  return trim(x, d, 0) + suffix(info, s);
}

/// uPlot axis `values` for a unit: one step for the whole axis (the largest
/// tick's) and as many decimals as the tick increment needs.
export function axisValues(unit) {
  const info = unitInfo(unit);
  return (u, splits) => {
    const abs = Math.max(...splits.map((v) => Math.abs(v || 0)));
    const s = step(info.kind, abs);
    const inc = splits.length > 1 ? Math.abs(splits[1] - splits[0]) / s[0] : 1;
    const d = Math.min(3, Math.max(0, -Math.floor(Math.log10(inc || 1) + 1e-9)));
    return splits.map((v) => (v === null || v === undefined ? '' : v === 0 && info.kind === 'count' ? '0' : trim(v / s[0], d) + suffix(info, s)));
  };
}

/// uPlot axis `incrs` that land on round scaled values (binary for bytes,
/// clock units for seconds); undefined keeps uPlot's decimal ones.
export function axisIncrs(unit) {
  const { kind } = unitInfo(unit);
  const mults = [1, 2, 2.5, 5];
  if (kind === 'bytes') {
    // Round in the step the axis will show (200 KiB is not a round MiB figure):
    // uPlot then takes these as whole bytes.
    return (u, ai, min, max) => {
      const base = step(kind, Math.max(Math.abs(min), Math.abs(max)))[0];
      const out = [];
      for (let e = -2; e < 4; e++) for (const m of mults) if (base * m * 10 ** e >= 1) out.push(base * m * 10 ** e);
      return out.sort((a, b) => a - b);
    };
  }
  if (kind === 'seconds') {
    const out = [];
    for (let e = -6; e < 1; e++) for (const m of mults) out.push(m * 10 ** e);
    out.push(15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 432000, 864000);
    return out.sort((a, b) => a - b);
  }
  return undefined;
}

// ---- time ----------------------------------------------------------------

import { useUtc, zoneLabel } from './time.js';
export { useUtc };

/// "2026-12-06 15:03 CET" (seconds too when `secs`) for epoch seconds.
export function fmtTs(t, secs = false, utc = useUtc()) {
  const d = new Date(t * 1000);
  const p = (n) => String(n).padStart(2, '0');
  const g = utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
  return `${g[0]}-${p(g[1])}-${p(g[2])} ${p(g[3])}:${p(g[4])}${secs ? ':' + p(g[5]) : ''} ${zoneLabel(d, utc)}`;
}

/// uPlot x-axis formats by tick span: ISO order, 24-hour clock, the date
/// added under a tick where the day changes.
export const TIME_FORMATS = [
  [86400 * 365, '{YYYY}', null, null, null, null, null, null, 1],
  [86400 * 28, '{YYYY}-{MM}', null, null, null, null, null, null, 1],
  [86400, '{MM}-{DD}', '\n{YYYY}', null, null, null, null, null, 1],
  [3600, '{HH}:{mm}', '\n{YYYY}-{MM}-{DD}', null, '\n{MM}-{DD}', null, null, null, 1],
  [60, '{HH}:{mm}', '\n{YYYY}-{MM}-{DD}', null, '\n{MM}-{DD}', null, null, null, 1],
  [1, '{HH}:{mm}:{ss}', '\n{YYYY}-{MM}-{DD}', null, '\n{MM}-{DD}', null, null, null, 1],
];
