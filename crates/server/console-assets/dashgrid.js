// The dashboard grid: CloudWatch's 24 columns and fixed-height rows, each
// widget's cell from the body's x/y/width/height, and editing the layout with
// the mouse (drag the bar to move, the corner to resize) or the keyboard
// (arrows move, shift+arrows resize). Cells snap to whole grid units; a
// widget moved onto others pushes them down.

export const COLS = 24;
export const ROW = 50; // px per row unit (dashboards.css's grid-auto-rows)

const int = (v, d) => (Number.isFinite(Number(v)) && v !== null && v !== '' ? Math.round(Number(v)) : d);
export const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/// Each widget's cell {x, y, w, h}. Widgets with x and y keep them; the
/// others go, in body order, to the first free place scanning left to right
/// then top to bottom (CloudWatch's automatic placement), from their row if
/// they give one, in their column if they give one. Width defaults to
/// 6, height to 6.
export function placeAll(widgets) {
  const cells = widgets.map((wd) => {
    const w = Math.min(COLS, Math.max(1, int(wd.width, 6)));
    const h = Math.max(1, int(wd.height, 6));
    const x = wd.x === undefined ? null : Math.min(COLS - w, Math.max(0, int(wd.x, 0)));
    const y = wd.y === undefined ? null : Math.max(0, int(wd.y, 0));
    return { x, y, w, h };
  });
  const placed = cells.filter((c) => c.x !== null && c.y !== null);
  for (const c of cells) {
    if (c.x !== null && c.y !== null) continue;
    const xs = c.x !== null ? [c.x] : [...Array(COLS - c.w + 1).keys()];
    search: for (let y = c.y ?? 0; ; y++) {
      for (const x of xs) {
        if (!placed.some((p) => overlaps(p, { x, y, w: c.w, h: c.h }))) { c.x = x; c.y = y; break search; }
      }
    }
    placed.push(c);
  }
  return cells;
}

/// The layout with cell `fixed` where it is and every other cell that now
/// overlaps something pushed down just below it (top to bottom, so pushes cascade).
export function pushDown(layout, fixed) {
  const out = layout.map((c) => ({ ...c }));
  const settled = [out[fixed]];
  const rest = out.map((c, i) => i).filter((i) => i !== fixed).sort((a, b) => out[a].y - out[b].y || out[a].x - out[b].x);
  for (const i of rest) {
    const c = out[i];
    for (let hit = settled.find((s) => overlaps(s, c)); hit; hit = settled.find((s) => overlaps(s, c))) c.y = hit.y + hit.h;
    settled.push(c);
  }
  return out;
}

/// Puts a cell element at its place (CSSOM, allowed under the CSP). `order`
/// keeps the reading order when a phone stacks the widgets in one column.
export function applyCell(el, c) {
  el.style.gridColumn = `${c.x + 1} / span ${c.w}`;
  el.style.gridRow = `${c.y + 1} / span ${c.h}`;
  el.style.order = String(c.y * COLS + c.x);
  el.style.setProperty('--rows', String(c.h));
  Object.assign(el.dataset, { x: c.x, y: c.y, w: c.w, h: c.h });
}

/// Makes the grid's cells editable. `state.layout` is the working layout
/// (one cell per element of `state.cells`); `changed()` runs after each change.
export function editable(grid, state, changed) {
  const set = (i, cell) => {
    state.layout[i] = cell;
    state.layout = pushDown(state.layout, i);
    state.layout.forEach((c, k) => applyCell(state.cells[k], c));
    changed();
  };
  const colW = () => grid.clientWidth / COLS;
  const onDown = (e) => {
    const handle = e.target.closest('.widget-move, .widget-resize');
    if (!handle || e.button !== 0) return;
    const i = state.cells.indexOf(handle.closest('.widget'));
    if (i < 0) return;
    e.preventDefault();
    const resize = handle.classList.contains('widget-resize');
    const from = { ...state.layout[i] };
    const base = state.layout.map((c) => ({ ...c })); // pushes are undone as the pointer comes back
    const x0 = e.clientX, y0 = e.clientY;
    state.cells[i].classList.add('dragging');
    const move = (ev) => {
      const dx = Math.round((ev.clientX - x0) / colW()), dy = Math.round((ev.clientY - y0) / ROW);
      const c = resize
        ? { ...from, w: Math.min(COLS - from.x, Math.max(1, from.w + dx)), h: Math.max(1, from.h + dy) }
        : { ...from, x: Math.min(COLS - from.w, Math.max(0, from.x + dx)), y: Math.max(0, from.y + dy) };
      state.layout = base.map((b) => ({ ...b }));
      set(i, c);
    };
    const up = () => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
      window.removeEventListener('pointercancel', up);
      state.cells[i]?.classList.remove('dragging');
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
    window.addEventListener('pointercancel', up); // a touch taken over by the browser ends the drag where it is
  };
  const onKey = (e) => {
    const i = state.cells.indexOf(e.target);
    const d = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[e.key];
    if (i < 0 || !d) return;
    e.preventDefault();
    const c = { ...state.layout[i] };
    if (e.shiftKey) { c.w = Math.min(COLS - c.x, Math.max(1, c.w + d[0])); c.h = Math.max(1, c.h + d[1]); }
    else { c.x = Math.min(COLS - c.w, Math.max(0, c.x + d[0])); c.y = Math.max(0, c.y + d[1]); }
    set(i, c);
  };
  grid.addEventListener('pointerdown', onDown);
  grid.addEventListener('keydown', onKey);
}
