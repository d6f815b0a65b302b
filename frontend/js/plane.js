// The tilting plane span(ẑ, ŵ): every training point (test points optional), the
// boundary line and ŵ drawn from the model, the 2·d_adv band and the centroids as
// images. Shared by the teaser and the explorer. Plotly draws the axes and the grid;
// everything else, the points included, is drawn on one canvas over them. Per-model arrays
// are split by class once at load; a λ step redraws that canvas from rows it already has,
// with no Plotly call.
import { clipLine, clipPolygon } from './maths.js';
import { imageCanvas, drawGray } from './images.js';
import { COLOURS, PLOT_CONFIG, plotFont } from './ui.js';
import { plotArea, react, isDrawn } from './plotly-adapter.js';

function splitByClass(exp, prefix) {
  const u = exp.arrays[`${prefix}_u`].data;
  const V = exp.arrays[`${prefix}_v`].data;
  const y = exp.arrays[`${prefix}_y`].data;
  const { nModels } = exp;
  const n = y.length;
  const out = {};
  for (const [name, sign] of [['I', -1], ['J', 1]]) {
    const idx = [];
    for (let i = 0; i < n; i++) if (y[i] === sign) idx.push(i);
    const cu = new Float32Array(idx.length);
    idx.forEach((src, t) => { cu[t] = u[src]; });
    const cv = new Float32Array(nModels * idx.length);
    for (let k = 0; k < nModels; k++) {
      const base = k * n; const dst = k * idx.length;
      for (let t = 0; t < idx.length; t++) cv[dst + t] = V[base + idx[t]];
    }
    out[name] = { u: cu, rows: Array.from({ length: nModels }, (_, k) => cv.subarray(k * idx.length, (k + 1) * idx.length)), n: idx.length };
  }
  return out;
}

function extent(values, into) {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < into[0]) into[0] = v;
    if (v > into[1]) into[1] = v;
  }
  return into;
}

// --- labels that do not collide ------------------------------------------------------
// Boxes are {x, y, w, h} in CSS pixels of the plot div.
const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
const area = (a, b) => Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x)) * Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
const DIRS = Array.from({ length: 16 }, (_, i) => [Math.cos((i * Math.PI) / 8), Math.sin((i * Math.PI) / 8)]);

// Place a w×h label near the anchor (ax, ay), r pixels clear of it: the first spot, trying
// the preferred directions first and then farther rings, that overlaps no placed label and
// stays in `bounds`; markers (`soft`) are avoided where possible. Returns the box and
// whether it needs a leader line back to its anchor.
function placeLabel(placed, soft, bounds, ax, ay, r, w, h, prefer) {
  const order = DIRS.slice().sort((a, b) => (b[0] * prefer[0] + b[1] * prefer[1]) - (a[0] * prefer[0] + a[1] * prefer[1]));
  let fallback = null; let fallbackCost = Infinity;
  for (const ring of [0, 12, 26, 44, 66]) {
    const d = r + 2 + ring;
    for (const [dx, dy] of order) {
      const box = { x: ax + dx * (d + w / 2) - w / 2, y: ay + dy * (d + h / 2) - h / 2, w, h };
      if (box.x < bounds.x || box.y < bounds.y || box.x + box.w > bounds.x + bounds.w || box.y + box.h > bounds.y + bounds.h) continue;
      let hard = 0; let softCost = 0;
      for (const p of placed) hard += area(box, p);
      for (const p of soft) if (overlaps(box, p)) softCost += area(box, p);
      if (!hard && !softCost) return { ...box, leader: ring > 0 };
      const cost = 1e6 * hard + softCost + ring;
      if (cost < fallbackCost) { fallbackCost = cost; fallback = { ...box, leader: ring > 0 }; }
    }
  }
  return fallback ?? { x: ax + r, y: ay - h, w, h, leader: false };
}

function marker(ctx, symbol, x, y, r, colour) {
  ctx.beginPath();
  if (symbol === 'square') ctx.rect(x - r * 0.85, y - r * 0.85, 1.7 * r, 1.7 * r);
  else if (symbol === 'diamond') { ctx.moveTo(x, y - r); ctx.lineTo(x + r, y); ctx.lineTo(x, y + r); ctx.lineTo(x - r, y); ctx.closePath(); }
  else if (symbol === 'x') { ctx.moveTo(x - r, y - r); ctx.lineTo(x + r, y + r); ctx.moveTo(x + r, y - r); ctx.lineTo(x - r, y + r); }
  else ctx.arc(x, y, r, 0, 2 * Math.PI);
  if (symbol === 'x') {
    ctx.lineWidth = 4; ctx.strokeStyle = '#fff'; ctx.stroke();
    ctx.lineWidth = 2; ctx.strokeStyle = colour; ctx.stroke();
  } else {
    ctx.fillStyle = colour; ctx.fill(); ctx.lineWidth = 1.5; ctx.strokeStyle = '#fff'; ctx.stroke();
  }
}

function arrowHead(ctx, x0, y0, x1, y1, size, colour) {
  const angle = Math.atan2(y1 - y0, x1 - x0);
  ctx.beginPath(); ctx.moveTo(x1, y1);
  for (const side of [-1, 1]) ctx.lineTo(x1 - size * Math.cos(angle + side * 0.4), y1 - size * Math.sin(angle + side * 0.4));
  ctx.closePath(); ctx.fillStyle = colour; ctx.fill();
}

// What each mark looks like, for the legend (an inline SVG swatch) and the overlay.
const SYMBOL_OF = { image: 'circle', projected: 'diamond', mirror: 'square', adversarial: 'x' };
function swatch(kind, colour) {
  const svg = (body) => `<svg width="22" height="14" viewBox="0 0 22 14" aria-hidden="true">${body}</svg>`;
  switch (kind) {
    case 'band': return svg(`<rect x="1" y="2" width="20" height="10" fill="${COLOURS.band}" stroke="#bbb" stroke-width="0.5"/>`);
    case 'boundary': return svg(`<line x1="1" y1="7" x2="21" y2="7" stroke="${COLOURS.ink}" stroke-width="2"/>`);
    case 'w': return svg(`<line x1="2" y1="7" x2="16" y2="7" stroke="${COLOURS.ink}" stroke-width="2"/><path d="M21 7 L14 3.5 L14 10.5 Z" fill="${COLOURS.ink}"/>`);
    case 'z': return svg(`<line x1="2" y1="7" x2="16" y2="7" stroke="${Z_COLOUR}" stroke-width="1.5"/><path d="M21 7 L14 3.5 L14 10.5 Z" fill="${Z_COLOUR}"/>`);
    case 'mean': return svg(`<circle cx="6" cy="7" r="4.5" fill="${COLOURS.I}" stroke="#111" stroke-width="1.5"/><circle cx="16" cy="7" r="4.5" fill="${COLOURS.J}" stroke="#111" stroke-width="1.5"/>`);
    case 'cloud-I': case 'cloud-J': return svg(`<rect x="8.5" y="4.5" width="5" height="5" fill="${colour}" opacity="0.7"/>`);
    case 'test-I': case 'test-J': return svg(`<rect x="8.5" y="4.5" width="5" height="5" fill="none" stroke="${colour}"/>`);
    case 'image': return svg('<circle cx="11" cy="7" r="5" fill="#444"/>');
    case 'projected': return svg('<path d="M11 1.5 L16.5 7 L11 12.5 L5.5 7 Z" fill="#444"/>');
    case 'mirror': return svg('<rect x="6.5" y="2.5" width="9" height="9" fill="#444"/>');
    case 'adversarial': return svg('<path d="M6 2 L16 12 M16 2 L6 12" stroke="#444" stroke-width="2"/>');
    default: return '';
  }
}
const Z_COLOUR = '#6b6b6b';

export function planePlot(div, exp, { digits, compact = false } = {}) {
  const train = splitByClass(exp, 'train');
  let test = null;
  // One frame for every λ: u does not depend on λ; v is fitted to the points over all the
  // models, so nothing is ever cut off and the geometry can be compared between steps.
  const uRange = extent(exp.arrays.train_u.data, [Infinity, -Infinity]);
  const vRange = extent(exp.arrays.train_v.data, [Infinity, -Infinity]);
  const pad = (r, f) => { const w = r[1] - r[0]; return [r[0] - f * w, r[1] + f * w]; };
  let ur = pad(uRange, 0.03);
  let vr = pad(vRange, 0.03);

  const { dim, side } = exp;
  const C = exp.arrays.centroids.data;
  let gap = 0;
  for (let i = 0; i < dim; i++) gap += (C[dim + i] - C[i]) ** 2;
  const half = Math.sqrt(gap) / 2; // centroid i sits at (−‖j−i‖/2, 0), j at (+‖j−i‖/2, 0)
  const thumbs = [0, 1].map((c) => { const t = imageCanvas(side); drawGray(t, C.subarray(c * dim, (c + 1) * dim), side); return t; });
  const [di, dj] = digits;

  // Plotly's one trace is empty: it draws the frame, the points are the canvas's (below).
  const frameOnly = { type: 'scatter', mode: 'lines', name: 'frame', x: [null], y: [null], hoverinfo: 'skip', showlegend: false };

  // By the plot's width: the div's as Plotly laid it out when drawing over it (reading
  // div.clientWidth in a λ step would force a layout of the page mid-step).
  const narrow = (width = div.clientWidth || 600) => width < 480;
  const thumbSize = (width) => (narrow(width) ? 34 : compact ? 44 : 52);
  let showTest = false;
  let current = { k: 0, extras: [] };
  let laidOut = false; // has Plotly laid out the frame at the current size and ranges

  // The legend: HTML under the plot (it wraps on a phone), rebuilt only when the set of
  // marks changes. Every mark the overlay or Plotly draws has an entry (data-legend).
  const legend = document.createElement('ul');
  legend.className = 'plane-legend';
  legend.setAttribute('aria-label', 'Legend of the tilting-plane figure');
  let legendKey = '';
  function updateLegend(kinds) {
    const key = kinds.join('|');
    if (key === legendKey) return;
    legendKey = key;
    const text = {
      'cloud-I': `training ${di}s`, 'cloud-J': `training ${dj}s`, 'test-I': `test ${di}s`, 'test-J': `test ${dj}s`,
      mean: `class means i, j (images above)`, z: 'ẑ: from i to j', boundary: 'boundary', w: 'ŵ: normal to the boundary',
      band: 'band of width 2·d<sub>adv</sub>',
      image: 'x, y: the chosen images', projected: 'x<sub>p</sub>, y<sub>p</sub>: projected onto the boundary',
      mirror: 'x<sub>m</sub>, y<sub>m</sub>: mirrored through it', adversarial: 'x̃, ỹ: nearest valid image across it',
    };
    const colour = { 'cloud-I': COLOURS.I, 'cloud-J': COLOURS.J, 'test-I': COLOURS.I, 'test-J': COLOURS.J };
    legend.innerHTML = kinds.map((kd) => `<li data-legend="${kd}">${swatch(kd, colour[kd])}<span>${text[kd]}</span></li>`).join('');
    if (!legend.isConnected) div.after(legend);
  }

  // The 2-D overlay: points, band, boundary, ẑ, ŵ, the class means and the chosen images,
  // redrawn on every step from Plotly's own axis mapping (no Plotly call), and after every
  // Plotly redraw. Its labels are placed so that none overlaps another (div.planeLabels).
  const overlay = document.createElement('canvas');
  overlay.className = 'plane-overlay';
  overlay.setAttribute('aria-hidden', 'true');
  const widths = new Map();
  const measure = (ctx, font, text) => {
    const key = `${font}|${text}`;
    if (!widths.has(key)) { ctx.font = font; widths.set(key, ctx.measureText(text).width); }
    return widths.get(key);
  };

  // The points, as Plotly's WebGL scatter drew them before: each a translucent mark (a
  // square of a round marker's area), so that dense regions darken. A 2-D canvas, because
  // where the browser composites in software a WebGL canvas is read back on every frame it
  // changes (~9 ms a λ step for the explorer's, benchmarks/RESULTS.md); 6,000 squares cost
  // about 3 ms to draw. Axes are linear: one scale and offset per axis.
  const markSize = (compact ? 3 : 3.5) * 0.886;
  function drawCloud(ctx, u, v, xa, ya, colour, open) {
    const ax = xa.toPixel(1) - xa.toPixel(0); const bx = xa.toPixel(0) - markSize / 2;
    const ay = ya.toPixel(1) - ya.toPixel(0); const by = ya.toPixel(0) - markSize / 2;
    if (open) { ctx.globalAlpha = 0.8; ctx.strokeStyle = colour; ctx.lineWidth = 1; } else { ctx.globalAlpha = 0.45; ctx.fillStyle = colour; }
    for (let t = 0; t < u.length; t++) {
      if (open) ctx.strokeRect(ax * u[t] + bx, ay * v[t] + by, markSize, markSize);
      else ctx.fillRect(ax * u[t] + bx, ay * v[t] + by, markSize, markSize);
    }
    ctx.globalAlpha = 1;
  }

  // Draws the figure's canvas at `scale` device pixels per CSS pixel: on screen into the
  // overlay, for a print picture into a canvas of its own. Returns what it placed.
  function paint(canvas, scale) {
    const area = plotArea(div);
    if (!area) return null;
    const xa = area.x; const ya = area.y;
    const W = area.width; const H = area.height;
    if (canvas.width !== Math.round(W * scale) || canvas.height !== Math.round(H * scale)) {
      canvas.width = Math.round(W * scale); canvas.height = Math.round(H * scale);
      canvas.style.width = `${W}px`; canvas.style.height = `${H}px`;
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    ctx.clearRect(0, 0, W, H);
    const family = plotFont().family;
    const px = xa.toPixel; const py = ya.toPixel;
    const bounds = { x: xa.offset, y: ya.offset, w: xa.length, h: ya.length };
    const kinds = ['cloud-I', 'cloud-J'];
    if (test && showTest) kinds.push('test-I', 'test-J');
    ctx.save();
    ctx.beginPath(); ctx.rect(bounds.x, bounds.y, bounds.w, bounds.h); ctx.clip();
    const drawn = { k: current.k, train: { I: { u: train.I.u, v: train.I.rows[current.k] }, J: { u: train.J.u, v: train.J.rows[current.k] } }, test: null };
    if (test && showTest) drawn.test = { I: { u: test.I.u, v: test.I.rows[current.k] }, J: { u: test.J.u, v: test.J.rows[current.k] } };
    for (const [set, open] of [[drawn.train, false], [drawn.test, true]]) {
      if (!set) continue;
      drawCloud(ctx, set.I.u, set.I.v, xa, ya, COLOURS.I, open);
      drawCloud(ctx, set.J.u, set.J.v, xa, ya, COLOURS.J, open);
    }
    const m = exp.model(current.k);
    const cos = Math.cos(m.theta); const sin = Math.sin(m.theta); const c = m.boundary_offset;
    const band = clipPolygon([[ur[0], vr[0]], [ur[1], vr[0]], [ur[1], vr[1]], [ur[0], vr[1]]],
      [[cos, sin, c - m.d_adv], [-cos, -sin, -c - m.d_adv]]);
    if (band.length) {
      ctx.beginPath();
      band.forEach(([u, v], i) => (i ? ctx.lineTo(px(u), py(v)) : ctx.moveTo(px(u), py(v))));
      ctx.closePath(); ctx.fillStyle = COLOURS.band; ctx.fill();
      kinds.push('band');
    }
    const line = clipLine(cos, sin, c, ur, vr);
    if (line) {
      ctx.beginPath(); ctx.moveTo(px(line[0][0]), py(line[0][1])); ctx.lineTo(px(line[1][0]), py(line[1][1]));
      ctx.strokeStyle = COLOURS.ink; ctx.lineWidth = 2; ctx.stroke();
      kinds.push('boundary');
    }
    // ẑ: from the mean i to the mean j, along the horizontal axis.
    const [ix, jx, my] = [px(-half), px(half), py(0)];
    ctx.beginPath(); ctx.moveTo(ix, my); ctx.lineTo(jx - 8, my);
    ctx.strokeStyle = Z_COLOUR; ctx.lineWidth = 1.5; ctx.stroke();
    arrowHead(ctx, ix, my, jx - 6, my, 9, Z_COLOUR);
    kinds.push('mean', 'z');
    // ŵ: an arrow on the boundary, along the normal. Its foot slides along the boundary
    // (upwards first) to the first place where neither it nor its label meets ẑ or i, j.
    const arrow = 0.16 * (ur[1] - ur[0]);
    const zBox = { x: ix - 8, y: my - 10, w: jx - ix + 16, h: 20 };
    let foot = [-c * cos, -c * sin];
    for (const t of [0.3, 0.2, 0.4, -0.3, -0.2, -0.4, 0]) {
      const s = t * (vr[1] - vr[0]);
      const f = [-c * cos - s * sin, -c * sin + s * cos];
      const tip = [f[0] + 1.3 * arrow * cos, f[1] + 1.3 * arrow * sin];
      const inside = [f, tip].every(([u, v]) => u > ur[0] && u < ur[1] && v > vr[0] && v < vr[1]);
      const tx = px(tip[0]); const ty = py(tip[1]);
      const clear = ![zBox, ...[ix, jx].map((x) => ({ x: x - 8, y: my - 8, w: 16, h: 16 }))].some((b) => overlaps(b, { x: tx - 10, y: ty - 10, w: 20, h: 20 }))
        && !overlaps(zBox, { x: Math.min(px(f[0]), tx) - 2, y: Math.min(py(f[1]), ty) - 2, w: Math.abs(tx - px(f[0])) + 4, h: Math.abs(ty - py(f[1])) + 4 });
      if (inside && clear) { foot = f; break; }
    }
    const [x0, y0] = [px(foot[0]), py(foot[1])]; const [x1, y1] = [px(foot[0] + arrow * cos), py(foot[1] + arrow * sin)];
    ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.strokeStyle = COLOURS.ink; ctx.lineWidth = 2; ctx.stroke();
    arrowHead(ctx, x0, y0, x1, y1, 9, COLOURS.ink);
    kinds.push('w');
    // The chosen images: x—x_m (through x_p) solid, x—x̃ dashed, markers on top.
    for (const e of current.extras) {
      ctx.strokeStyle = e.colour; ctx.lineWidth = 1.5;
      ctx.beginPath(); ctx.moveTo(px(e.x[0]), py(e.y[0])); ctx.lineTo(px(e.x[2]), py(e.y[2])); ctx.stroke();
      ctx.setLineDash([4, 3]);
      ctx.beginPath(); ctx.moveTo(px(e.x[0]), py(e.y[0])); ctx.lineTo(px(e.x[3]), py(e.y[3])); ctx.stroke();
      ctx.setLineDash([]);
    }
    ctx.restore();
    // Markers (unclipped: a mirror image far outside still shows at the edge of the frame).
    const clampX = (x) => Math.min(bounds.x + bounds.w, Math.max(bounds.x, x));
    const clampY = (y) => Math.min(bounds.y + bounds.h, Math.max(bounds.y, y));
    const soft = [];
    for (const [cx, colour] of [[ix, COLOURS.I], [jx, COLOURS.J]]) {
      ctx.beginPath(); ctx.arc(cx, my, 5.5, 0, 2 * Math.PI); ctx.fillStyle = colour; ctx.fill();
      ctx.lineWidth = 2; ctx.strokeStyle = '#111'; ctx.stroke();
      soft.push({ x: cx - 6, y: my - 6, w: 12, h: 12 });
    }
    const points = [];
    for (const e of current.extras) {
      e.x.forEach((u, i) => {
        const x = clampX(px(u)); const y = clampY(py(e.y[i])); const r = e.sizes[i] / 2;
        const kind = Object.keys(SYMBOL_OF)[i];
        marker(ctx, e.symbols[i], x, y, r, e.colour);
        if (!kinds.includes(kind)) kinds.push(kind);
        soft.push({ x: x - r, y: y - r, w: 2 * r, h: 2 * r });
        points.push({ x, y, r, text: e.marks[i], colour: e.colour });
      });
    }
    // Labels: ŵ's first (fixed at the arrow's tip), then ẑ, i, j and the chosen images.
    const placed = [];
    const labels = [];
    const fontBig = `15px ${family}`; const fontMark = `600 13px ${family}`;
    const put = (text, font, colour, box, ax, ay) => {
      placed.push(box);
      labels.push({ text, font, colour, box, ax, ay });
    };
    {
      const wx = px(foot[0] + 1.3 * arrow * cos); const wy = py(foot[1] + 1.3 * arrow * sin);
      const w = measure(ctx, fontBig, 'ŵ') + 4; const h = 18;
      put('ŵ', fontBig, COLOURS.ink, { x: wx - w / 2, y: wy - h / 2, w, h, leader: false }, wx, wy);
    }
    {
      const w = measure(ctx, fontBig, 'ẑ') + 4; const h = 18;
      let best = null;
      for (const t of [0.72, 0.28, 0.86, 0.14, 0.6, 0.4]) {
        for (const dy of [-1, 1]) {
          const box = { x: ix + t * (jx - ix) - w / 2, y: my + dy * 6 - (dy < 0 ? h : 0), w, h, leader: false };
          if (!placed.some((p) => overlaps(p, box)) && !soft.some((p) => overlaps(p, box))) { best = box; break; }
        }
        if (best) break;
      }
      if (best) put('ẑ', fontBig, Z_COLOUR, best, best.x + w / 2, my);
    }
    const h = 16;
    [['i', ix, COLOURS.I, [-0.7, -0.7]], ['j', jx, COLOURS.J, [0.7, -0.7]]].forEach(([text, cx, colour, prefer]) => {
      const box = placeLabel(placed, soft, bounds, cx, my, 6, measure(ctx, `700 14px ${family}`, text) + 4, h, prefer);
      put(text, `700 14px ${family}`, '#111', box, cx, my);
    });
    // Chosen images: off the x—x_m line, on the side away from the boundary's normal.
    const perp = [Math.sin(m.theta), Math.cos(m.theta)]; // pixel-space perpendicular to ŵ
    points.forEach((p, n) => {
      const side = n % 4 === 3 ? -1 : 1;
      const box = placeLabel(placed, soft, bounds, p.x, p.y, p.r, measure(ctx, fontMark, p.text) + 4, h, [side * perp[0], side * perp[1]]);
      put(p.text, fontMark, p.colour, box, p.x, p.y);
    });
    ctx.textAlign = 'center'; ctx.textBaseline = 'middle'; ctx.lineJoin = 'round';
    for (const { text, font, colour, box, ax, ay } of labels) {
      const cx = box.x + box.w / 2; const cy = box.y + box.h / 2;
      if (box.leader) {
        const tx = Math.min(box.x + box.w, Math.max(box.x, ax)); const ty = Math.min(box.y + box.h, Math.max(box.y, ay));
        ctx.beginPath(); ctx.moveTo(ax, ay); ctx.lineTo(tx, ty); ctx.strokeStyle = colour; ctx.lineWidth = 1; ctx.globalAlpha = 0.7; ctx.stroke(); ctx.globalAlpha = 1;
      }
      ctx.font = font;
      ctx.lineWidth = 3.5; ctx.strokeStyle = 'rgba(255,255,255,0.92)'; ctx.strokeText(text, cx, cy + 1);
      ctx.fillStyle = colour; ctx.fillText(text, cx, cy + 1);
    }
    // The class means as images, above the frame over their points: outside the data.
    const T = thumbSize(W); const top = Math.max(2, ya.offset - T - 6);
    ctx.imageSmoothingEnabled = false;
    const thumbBoxes = [];
    [[thumbs[0], ix, 'i', `mean of ${di}s`, -1], [thumbs[1], jx, 'j', `mean of ${dj}s`, 1]].forEach(([img, cx, name, text, out]) => {
      const x = cx - T / 2;
      ctx.fillStyle = '#fff'; ctx.fillRect(x, top, T, T);
      ctx.drawImage(img, x, top, T, T);
      ctx.strokeStyle = '#bbb'; ctx.lineWidth = 1; ctx.strokeRect(x + 0.5, top + 0.5, T - 1, T - 1);
      ctx.font = `11px ${family}`;
      const tw = Math.max(measure(ctx, `11px ${family}`, text), 10);
      // Beside the thumbnail, on the outer side if it fits.
      const room = out < 0 ? x - 2 : W - (x + T) - 2;
      const o = room >= tw + 6 ? out : -out;
      ctx.textAlign = o < 0 ? 'right' : 'left';
      const tx = o < 0 ? x - 5 : x + T + 5;
      ctx.fillStyle = '#111'; ctx.font = `700 14px ${family}`; ctx.textBaseline = 'bottom';
      ctx.fillText(name, tx, top + T / 2);
      ctx.fillStyle = '#444'; ctx.font = `11px ${family}`; ctx.textBaseline = 'top';
      ctx.fillText(text, tx, top + T / 2 + 1);
      thumbBoxes.push({ x, y: top, w: T, h: T });
    });
    return { labels, thumbBoxes, kinds, drawn };
  }

  function drawOverlay() {
    const placed = paint(overlay, window.devicePixelRatio || 1);
    if (!placed) return;
    if (!overlay.isConnected) div.append(overlay);
    const { labels, thumbBoxes, kinds, drawn } = placed;
    // What the canvas shows, for tests: labels' boxes, thumbnails, marks, the points drawn.
    div.planeLabels = labels.map(({ text, box }) => ({ text, x: box.x, y: box.y, w: box.w, h: box.h, leader: box.leader }));
    div.planeThumbs = thumbBoxes;
    div.planeKinds = kinds;
    div.planePoints = drawn;
    updateLegend(kinds);
  }
  // The print picture (figures.js) paints this canvas anew at the picture's scale.
  overlay.pictureAt = (scale) => { const c = document.createElement('canvas'); return paint(c, scale) ? c : null; };

  // A λ step (or new chosen images) redraws the canvas alone; the frame is Plotly's, laid
  // out again only on load, on the test toggle and when the plot resizes.
  function render(k, extras = current.extras) {
    current = { k, extras };
    if (!laidOut || !isDrawn(div)) return plot();
    drawOverlay();
    return Promise.resolve(div);
  }

  // A full Plotly draw: on load, on the test toggle and when the plot resizes. The plot
  // area's shape is the frame's, so that with equal scales (angles true) it fills the width.
  function plot() {
    laidOut = true;
    const width = div.clientWidth || 600;
    const margin = { l: narrow() ? 34 : 42, r: 8, t: thumbSize() + 10, b: 38 };
    const plotW = width - margin.l - margin.r;
    const cap = compact ? (narrow() ? Math.max(220, 0.36 * (window.innerHeight || 800)) : 470) : 600;
    const plotH = Math.round(Math.min(cap, Math.max(200, (plotW * (vr[1] - vr[0])) / (ur[1] - ur[0]))));
    const layout = {
      font: plotFont(),
      margin,
      height: plotH + margin.t + margin.b,
      showlegend: false,
      xaxis: { range: ur, constrain: 'domain', fixedrange: true, zeroline: false, gridcolor: COLOURS.grid, title: { text: '(x − m)·ẑ', standoff: 4 } },
      yaxis: { range: vr, constrain: 'domain', fixedrange: true, zeroline: false, gridcolor: COLOURS.grid, scaleanchor: 'x', scaleratio: 1, title: { text: '(x − m)·n̂', standoff: 2 } },
      plot_bgcolor: '#fff', paper_bgcolor: 'rgba(0,0,0,0)', dragmode: false, hovermode: false,
    };
    return react(div, [frameOnly], layout, PLOT_CONFIG).then((gd) => {
      if (!div.dataset.overlay) {
        div.dataset.overlay = '1';
        div.on('plotly_afterplot', drawOverlay);
      }
      drawOverlay();
      return gd;
    });
  }

  return {
    render,
    setTest(show, testExp) {
      if (testExp && !test) {
        test = splitByClass(testExp, 'test');
        ur = pad(extent(testExp.arrays.test_u.data, [...uRange]), 0.03);
        vr = pad(extent(testExp.arrays.test_v.data, [...vRange]), 0.03);
      }
      showTest = show;
      laidOut = false; // the ranges may have grown
      return render(current.k);
    },
    data: () => ({ train, test }),
    legend,
  };
}
