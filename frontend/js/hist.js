// The histogram of y·d(x) with losses drawn in the same distance units on a right-hand
// axis, on a plain 2-D canvas: a λ step redraws it in about a millisecond, where a
// Plotly redraw cost ~14 ms. Used by the explorer (hinge) and the loss figure (0-1,
// hinge, softplus).
import { plotFont } from './ui.js';

const INK = '#333'; const GRID = '#e6e6e6';

// About `count` round tick values covering [lo, hi].
// A 2-D canvas W×H CSS pixels at the screen's pixel ratio (resized only when that changes),
// cleared, with a context that draws in CSS pixels.
export function clearedContext(canvas, W, H) {
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(W * dpr) || canvas.height !== Math.round(H * dpr)) {
    canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
    canvas.style.width = `${W}px`; canvas.style.height = `${H}px`;
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, W, H);
  return ctx;
}

export function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw);
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) ticks.push(Math.abs(t) < 1e-12 * step ? 0 : t);
  return ticks;
}

const label = (t) => String(Number(t.toPrecision(6))).replace('-', '−');

// Losses of a point at signed distance t from the boundary when ‖w‖ = w: its score is w·t.
export const losses = {
  zeroOne: (w, t) => (t <= 0 ? 1 : 0),
  hinge: (w, t) => Math.max(0, 1 - w * t),
  softplus: (w, t) => { const z = -w * t; return z > 30 ? z : Math.log1p(Math.exp(z)); },
};

// Sample points of loss(t) on [lo, hi]: `count` even steps plus the kinks (drawn
// exactly) and the jumps (two points at the same t: the limits from the left and from
// the right).
export function lossPoints(loss, lo, hi, { count = 400, kinks = [], jumps = [] } = {}) {
  const inside = (b) => b > lo && b < hi;
  const ts = Array.from({ length: count + 1 }, (_, i) => lo + ((hi - lo) * i) / count)
    .concat(kinks.filter(inside), jumps.filter(inside)).sort((a, b) => a - b);
  const t = []; const y = [];
  for (const s of ts) {
    if (jumps.includes(s)) {
      const eps = 1e-9 * (hi - lo);
      t.push(s, s); y.push(loss(s - eps), loss(s + eps));
    } else {
      t.push(s); y.push(loss(s));
    }
  }
  return { t, y };
}

// A histogram canvas in `div`, redrawn on resize. Returns draw(spec) with
//   edges: B + 1 bin edges (distance units);
//   bars: [{ name, values (share per bin), colour, fill }] — filled steps or a step line;
//   curves: [{ name, t, y, colour, width, dash }] — losses, on the right-hand axis;
//   lossTop: the loss axis' top (default: the curves' largest value, ×1.08);
//   range: the distance axis (default: the edges); marks: [{ t, colour, dash, text }];
//   titles: { x, y, loss }.
// What was drawn last is kept on div.drawn (the tests read it).
export function histogramCanvas(div, { height = 300 } = {}) {
  const canvas = document.createElement('canvas');
  div.replaceChildren(canvas);
  let last = null;
  let legend = null; // its layout, measured again only when the entries or the width change
  // The width comes from the resize observer: reading clientWidth on every λ step would
  // force a layout right after the step has changed the page's text.
  let width = div.clientWidth || 600;
  new ResizeObserver(([entry]) => {
    width = entry.contentRect.width || width;
    if (last) draw(last);
  }).observe(div);

  function draw(spec) {
    last = spec;
    div.drawn = spec;
    const { edges, bars, curves, marks = [], titles } = spec;
    const W = Math.round(width); const H = height;
    const ctx = clearedContext(canvas, W, H);
    const font = plotFont().family;
    const entries = [...bars, ...curves];
    const names = entries.map((e) => e.name).join('|');
    if (legend?.names !== names || legend.W !== W) legend = { names, W, ...legendLayout(ctx, entries, 48, W - 48, font) };
    const M = { l: 48, r: 48, t: 28 + 16 * legend.rows, b: 42 };
    const B = edges.length - 1;
    const [lo, hi] = spec.range ?? [edges[0], edges[B]];
    let top = 0;
    for (const bar of bars) for (let b = 0; b < B; b++) top = Math.max(top, bar.values[b]);
    top = top > 0 ? top * 1.08 : 1;
    let lossTop = spec.lossTop;
    if (!lossTop) {
      lossTop = 1;
      for (const c of curves) for (let i = 0; i < c.y.length; i++) if (c.t[i] >= lo && c.t[i] <= hi) lossTop = Math.max(lossTop, c.y[i]);
      lossTop *= 1.08;
    }
    const pw = W - M.l - M.r; const ph = H - M.t - M.b;
    const X = (t) => M.l + ((t - lo) / (hi - lo)) * pw;
    const Y = (f) => M.t + ph - (f / top) * ph;
    const Y2 = (h) => M.t + ph - (h / lossTop) * ph; // beyond the top: clipped by the plot area
    const lossColour = curves.length === 1 ? curves[0].colour : INK;

    // Grid and ticks.
    ctx.font = `11px ${font}`; ctx.lineWidth = 1;
    ctx.textAlign = 'center'; ctx.textBaseline = 'top'; ctx.fillStyle = INK; ctx.strokeStyle = GRID;
    for (const t of niceTicks(lo, hi, Math.max(3, Math.floor(pw / 90)))) {
      ctx.beginPath(); ctx.moveTo(X(t), M.t); ctx.lineTo(X(t), M.t + ph); ctx.stroke();
      ctx.fillText(label(t), X(t), M.t + ph + 4);
    }
    ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    for (const f of niceTicks(0, top, 4)) {
      ctx.beginPath(); ctx.moveTo(M.l, Y(f)); ctx.lineTo(M.l + pw, Y(f)); ctx.stroke();
      ctx.fillText(label(f), M.l - 4, Y(f));
    }
    ctx.textAlign = 'left'; ctx.fillStyle = lossColour;
    for (const h of niceTicks(0, lossTop, 4)) ctx.fillText(label(h), M.l + pw + 4, Y2(h));

    ctx.save();
    ctx.beginPath(); ctx.rect(M.l, M.t, pw, ph); ctx.clip();
    for (const bar of bars) {
      ctx.beginPath();
      ctx.moveTo(X(edges[0]), Y(0));
      for (let b = 0; b < B; b++) { ctx.lineTo(X(edges[b]), Y(bar.values[b])); ctx.lineTo(X(edges[b + 1]), Y(bar.values[b])); }
      ctx.lineTo(X(edges[B]), Y(0));
      if (bar.fill) { ctx.closePath(); ctx.fillStyle = bar.colour; ctx.fill(); } else { ctx.strokeStyle = bar.colour; ctx.lineWidth = 1.5; ctx.stroke(); }
    }
    for (const c of curves) {
      ctx.beginPath();
      for (let i = 0; i < c.t.length; i++) (i ? ctx.lineTo : ctx.moveTo).call(ctx, X(c.t[i]), Y2(c.y[i]));
      ctx.setLineDash(c.dash ?? []); ctx.strokeStyle = c.colour; ctx.lineWidth = c.width ?? 2; ctx.stroke();
    }
    ctx.lineWidth = 1;
    for (const mark of marks) {
      ctx.setLineDash(mark.dash ?? []); ctx.strokeStyle = mark.colour ?? '#000';
      ctx.beginPath(); ctx.moveTo(X(mark.t), M.t); ctx.lineTo(X(mark.t), M.t + ph); ctx.stroke();
    }
    ctx.restore();
    ctx.textAlign = 'center'; ctx.textBaseline = 'bottom';
    for (const mark of marks) {
      if (!mark.text) continue;
      ctx.fillStyle = mark.colour ?? '#000';
      ctx.fillText(mark.text, X(Math.min(Math.max(mark.t, lo), hi)), M.t - 2);
    }

    // Frame, axis titles and the legend.
    ctx.strokeStyle = INK; ctx.strokeRect(M.l, M.t, pw, ph);
    ctx.font = `12px ${font}`; ctx.fillStyle = INK; ctx.textBaseline = 'bottom';
    ctx.fillText(titles.x, M.l + pw / 2, H - 2);
    ctx.save(); ctx.translate(12, M.t + ph / 2); ctx.rotate(-Math.PI / 2); ctx.textBaseline = 'middle'; ctx.fillText(titles.y, 0, 0); ctx.restore();
    ctx.save(); ctx.translate(W - 10, M.t + ph / 2); ctx.rotate(Math.PI / 2); ctx.textBaseline = 'middle'; ctx.fillStyle = lossColour; ctx.fillText(titles.loss, 0, 0); ctx.restore();
    drawLegend(ctx, legend.placed, entries, font);
  }
  return draw;
}

// The legend above the plot area: one row, wrapping when it is too wide.
function legendLayout(ctx, entries, left, right, font) {
  ctx.font = `11px ${font}`;
  let x = left; let y = 10; let rows = 1;
  const placed = entries.map((e) => {
    const width = 30 + ctx.measureText(e.name).width;
    if (x > left && x + width > right) { x = left; y += 16; rows += 1; }
    const at = { x, y };
    x += width;
    return at;
  });
  return { placed, rows };
}

function drawLegend(ctx, placed, entries, font) {
  ctx.font = `11px ${font}`; ctx.textAlign = 'left'; ctx.textBaseline = 'middle';
  for (const [i, { x, y }] of placed.entries()) {
    const e = entries[i];
    if (e.fill) { ctx.fillStyle = e.colour; ctx.fillRect(x, y - 4, 18, 8); } else {
      ctx.setLineDash(e.dash ?? []); ctx.strokeStyle = e.colour; ctx.lineWidth = e.values ? 1.5 : (e.width ?? 2);
      ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x + 18, y); ctx.stroke(); ctx.setLineDash([]);
    }
    ctx.fillStyle = INK; ctx.fillText(e.name, x + 22, y);
  }
}
