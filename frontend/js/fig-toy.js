// The toy problem (DESIGN.md figures 4, 5): images of h×2h pixels whose left half holds
// one level (class I in [−1, −0.1], class J in [0.1, 1]) and whose right half is 0. Every
// image lies on the line spanned by e₁ (the normalised left half); a boundary through the
// origin with normal ê_θ = cos θ e₁ + sin θ e₂ mirrors x to x_m = x − 2(x·ê_θ)ê_θ.
// Two panels, each with its own dimension and tilt, computed here in full pixel space;
// below them the trained version from the "toy" bundle (an SVM path with one mislabelled point).
import { getFigureData, loadFigureArrays } from './data.js';
import { el, readout, fmt, showError, PLOT_CONFIG, COLOURS, plotFont } from './ui.js';
import { clipLine, dot, l2 } from './maths.js';
import { ensureStoryCss } from './story.js';
import { drawDivergingRect } from './images.js';

const H_MAX = 50; // d = 2·50² = 5,000
const EXAMPLE_LEVELS = { I: [-0.83, -0.47, -0.16], J: [0.22, 0.58, 0.91] };
const X_LEVEL = 0.58; // the image x: the middle J example
const PANELS = [
  { key: 'a', title: 'Low dimension, tilted boundary', d: 2, theta: 84 },
  { key: 'b', title: 'High dimension, bisecting boundary', d: 5000, theta: 0 },
];

// Image shapes on the dimension slider: rows × 2·half pixels, d = 2·rows·half. The h×2h
// family (h = 1…50) plus 28×28, MNIST's size (784 = 2h² has no whole h).
export const SHAPES = Array.from({ length: H_MAX }, (_, i) => ({ rows: i + 1, half: i + 1 }));
SHAPES.splice(19, 0, { rows: 28, half: 14 });
export const dimension = ({ rows, half }) => 2 * rows * half;
// ‖indicator of one half‖: the plane coordinates' unit, h for an h×2h image.
export const halfNorm = ({ rows, half }) => Math.sqrt(rows * half);
const shapeIndex = (d) => Math.max(0, SHAPES.findIndex((sh) => dimension(sh) >= d));

// The toy basis: e₁, e₂ = left/right half indicators divided by their norm.
export function toyImage(left, right, shape) {
  const w = 2 * shape.half;
  const x = new Float64Array(shape.rows * w);
  for (let r = 0; r < shape.rows; r++) for (let c = 0; c < w; c++) x[r * w + c] = c < shape.half ? left : right;
  return x;
}

export function tiltedNormal(thetaDeg, shape) {
  const t = (thetaDeg * Math.PI) / 180;
  const n = halfNorm(shape);
  return toyImage(Math.cos(t) / n, Math.sin(t) / n, shape);
}

// Deterministic levels for the scatter: uniform in [0.1, 1] by a small LCG (display only).
function levels(n, seed) {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => { s = (1664525 * s + 1013904223) >>> 0; return 0.1 + 0.9 * (s / 2 ** 32); });
}
const SCATTER = { I: levels(40, 7).map((v) => -v), J: levels(40, 11) };

function toyCanvas(label) {
  const canvas = document.createElement('canvas');
  canvas.className = 'toy-image';
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', label);
  return canvas;
}

function panelImage(parent, caption) {
  const canvas = toyCanvas(caption);
  const cap = el('figcaption', { text: caption });
  parent.append(el('figure', { class: 'digit-panel' }, canvas, cap));
  return { canvas, cap };
}

function slider(parent, { label, min, max, step, onInput, name }) {
  const id = `toy-${name}-${Math.random().toString(36).slice(2, 8)}`;
  const lab = el('label', { for: id });
  const input = el('input', { id, type: 'range', min: String(min), max: String(max), step: String(step), 'data-control': name });
  input.addEventListener('input', () => onInput(Number(input.value)));
  parent.append(el('div', { class: 'toy-slider' }, lab, input));
  return { input, label: lab, set(v, text) { input.value = String(v); lab.innerHTML = text; input.setAttribute('aria-valuetext', lab.textContent); } };
}

function planeLayout(range, title) {
  return {
    margin: { l: 44, r: 8, t: 6, b: 38 }, font: plotFont(), showlegend: false,
    xaxis: { title: { text: title[0], standoff: 4 }, range: [-range, range], zeroline: false, gridcolor: COLOURS.grid },
    yaxis: { title: { text: title[1], standoff: 4 }, range: [-range, range], scaleanchor: 'x', zeroline: false, gridcolor: COLOURS.grid },
  };
}

function mountPanel(parent, spec, initial, Plotly, save) {
  const box = el('section', { class: 'toy-panel', 'data-panel': spec.key });
  box.append(el('h3', { class: 'figure-heading', text: spec.title }));
  const state = { shape: SHAPES[shapeIndex(initial.d)], theta: initial.theta };
  const hSlider = slider(box, { label: 'dimension', min: 0, max: SHAPES.length - 1, step: 1, name: `d${spec.key}`, onInput: (i) => { state.shape = SHAPES[i]; render(); save(); } });
  const tSlider = slider(box, { label: 'tilt', min: 0, max: 90, step: 0.5, name: `t${spec.key}`, onInput: (t) => { state.theta = t; render(); save(); } });
  const examples = el('div', { class: 'toy-images', 'aria-label': 'Example images of classes I and J' });
  const exampleCanvases = [...EXAMPLE_LEVELS.I.map((v) => [v, 'I']), ...EXAMPLE_LEVELS.J.map((v) => [v, 'J'])]
    .map(([v, c]) => ({ v, ...panelImage(examples, `${c}, level ${fmt.num(v, 2)}`) }));
  const pair = el('div', { class: 'toy-images' });
  const xImg = panelImage(pair, 'x (class J)');
  const mImg = panelImage(pair, 'x_m');
  const dl = el('dl', { class: 'readouts' });
  const rDist = readout(dl, `mirror-distance-${spec.key}`, '‖x<sub>m</sub> − x‖ (pixels)');
  const rClosed = readout(dl, `closed-form-${spec.key}`, '2|x·ê<sub>θ</sub>|');
  const rRel = readout(dl, `relative-${spec.key}`, '‖x<sub>m</sub> − x‖ / ‖x‖');
  const plot = el('div', { class: 'plot toy-plot', role: 'img', 'aria-label': 'The toy data and the boundary in the plane spanned by e1 and e2' });
  box.append(examples, pair, dl, plot);
  parent.append(box);

  function render() {
    const { shape, theta } = state;
    const d = dimension(shape);
    const h = halfNorm(shape); // the plane's unit: an image at left level a sits at a·h on e₁
    hSlider.set(SHAPES.indexOf(shape), `d = ${d.toLocaleString('en')} <span class="unit">(${shape.rows}×${2 * shape.half})</span>`);
    tSlider.set(theta, `θ = ${theta.toFixed(1)}°`);
    for (const ex of exampleCanvases) drawDivergingRect(ex.canvas, toyImage(ex.v, 0, shape), 2 * shape.half, shape.rows, 1);
    // Everything below is computed in the full d-dimensional pixel space.
    const x = toyImage(X_LEVEL, 0, shape);
    const e = tiltedNormal(theta, shape);
    const s = dot(x, e);
    const xm = x.map((v, i) => v - 2 * s * e[i]);
    drawDivergingRect(xImg.canvas, x, 2 * shape.half, shape.rows, 1);
    drawDivergingRect(mImg.canvas, xm, 2 * shape.half, shape.rows, 1);
    const distance = l2(xm, x);
    mImg.cap.textContent = Math.abs(s) < 1e-12 ? 'x_m = x, on the boundary' : `x_m: classified ${s > 0 ? 'I' : 'J'}`;
    rDist.set(distance, distance.toFixed(3));
    rClosed.set(2 * Math.abs(s), (2 * Math.abs(s)).toFixed(3));
    const rel = distance / l2(x);
    rRel.set(rel, rel.toFixed(3));
    // The plane (e₁, e₂): an image with left level a and right level c sits at (a·h, c·h).
    const t = (theta * Math.PI) / 180;
    const range = 1.15 * h;
    const seg = clipLine(Math.cos(t), Math.sin(t), 0, [-range, range], [-range, range]);
    const traces = ['I', 'J'].map((c) => ({
      type: 'scatter', mode: 'markers', x: SCATTER[c].map((v) => v * h), y: SCATTER[c].map(() => 0),
      marker: { color: c === 'I' ? COLOURS.I : COLOURS.J, size: 6, opacity: 0.6 }, hoverinfo: 'skip',
    }));
    traces.push({ type: 'scatter', mode: 'lines', x: seg.map((p) => p[0]), y: seg.map((p) => p[1]), line: { color: COLOURS.ink, width: 2 }, hoverinfo: 'skip' });
    traces.push({
      type: 'scatter', mode: 'lines+markers+text', x: [X_LEVEL * h, X_LEVEL * h - 2 * s * Math.cos(t)], y: [0, -2 * s * Math.sin(t)],
      text: ['x', 'x<sub>m</sub>'], textposition: ['bottom center', 'top center'], line: { color: '#7a3db8', dash: 'dot', width: 1.5 },
      marker: { color: '#7a3db8', size: 9, symbol: 'diamond' }, hoverinfo: 'skip',
    });
    Plotly.react(plot, traces, planeLayout(range, ['x·e₁', 'x·e₂']), PLOT_CONFIG);
  }
  render();
  return state;
}

function mountTrained(parent, manifest, arrays, initialLog10Lambda, Plotly, save) {
  const box = el('section', { class: 'toy-trained' });
  box.append(el('h3', { class: 'figure-heading', text: 'Trained: an SVM on toy data with one mislabelled image' }));
  const models = manifest.models;
  const grid = models.map((m) => m.log10_lambda);
  const [h] = manifest.dataset.image_shape;
  const mis = manifest.mislabelled.index;
  let k = grid.reduce((best, g, i) => (Math.abs(g - initialLog10Lambda) < Math.abs(grid[best] - initialLog10Lambda) ? i : best), 0);
  const lSlider = slider(box, { label: 'λ', min: 0, max: models.length - 1, step: 1, name: 'toylam', onInput: (v) => { k = v; render(); save(grid[k]); } });
  const dl = el('dl', { class: 'readouts' });
  const rTheta = readout(dl, 'toy-theta', 'Tilt θ of the trained boundary (from ẑ)');
  const rFits = readout(dl, 'toy-fits', 'Mislabelled image');
  const rErr = readout(dl, 'toy-train-error', 'Training error');
  const rNorm = readout(dl, 'toy-w-norm', '‖w‖');
  const plots = el('div', { class: 'toy-trained-plots' });
  const plane = el('div', { class: 'plot toy-plot', role: 'img', 'aria-label': 'Training images of the trained toy in the e1, e2 plane, the mislabelled one circled, and the trained boundary' });
  const curve = el('div', { class: 'plot toy-plot', role: 'img', 'aria-label': 'Tilt of the trained boundary against regularization' });
  plots.append(plane, curve);
  const note = el('p', { class: 'fig-note' });
  note.textContent = `${manifest.counts.train} images of ${h}×${2 * h} pixels (${manifest.counts.per_class} per class, the last J replaced by the mislabelled one: left level ${manifest.mislabelled.left_level}, right level ${manifest.mislabelled.right_level}, labelled J). Exact SVM solutions for ${models.length} values of λ (scaled by h², so the angles do not depend on h). The boundary is drawn from the trained w and b. θ is the angle between ŵ and ẑ, the direction between the two class means, as in every other figure; the mislabelled image leans ẑ itself ${(manifest.mislabelled.z_hat_tilt_deg ?? 0).toFixed(2)}° away from e₁, so θ = 0 means the boundary ignores it, not that ŵ = e₁.`;
  box.append(dl, plots, note);
  parent.append(box);
  const P = arrays.train_plane.data;
  const Y = arrays.train_y.data;
  const n = Y.length;
  const pts = (label) => {
    const idx = [...Array(n).keys()].filter((i) => i !== mis && Y[i] === label);
    return { x: idx.map((i) => P[2 * i]), y: idx.map((i) => P[2 * i + 1]) };
  };
  const I = pts(-1); const J = pts(1);
  const range = [-1.1 * h, 1.1 * h];
  const yRange = [-0.45 * h, 0.45 * h];
  Plotly.react(curve, [
    { type: 'scatter', mode: 'lines', x: grid, y: models.map((m) => m.theta_deg), line: { color: COLOURS.ink }, hoverinfo: 'x+y' },
    { type: 'scatter', mode: 'markers', x: [grid[k]], y: [models[k].theta_deg], marker: { color: '#c00', size: 10 }, hoverinfo: 'skip' },
  ], {
    margin: { l: 48, r: 8, t: 6, b: 40 }, font: plotFont(), showlegend: false,
    xaxis: { title: { text: 'log₁₀ λ (at h = 1)', standoff: 4 }, zeroline: false, gridcolor: COLOURS.grid },
    yaxis: { title: { text: 'θ from ẑ (degrees)', standoff: 4 }, rangemode: 'tozero', gridcolor: COLOURS.grid },
  }, PLOT_CONFIG);
  curve.on?.('plotly_click', (ev) => { const p = ev.points?.[0]; if (p) { k = grid.indexOf(p.x); if (k < 0) k = 0; render(); save(grid[k]); } });

  function render() {
    const m = models[k];
    lSlider.set(k, `λ = 10<sup>${m.log10_lambda.toFixed(1).replace('-', '−')}</sup>`);
    const [w1, w2] = [arrays.plane_weights.data[2 * k], arrays.plane_weights.data[2 * k + 1]];
    const seg = clipLine(w1, w2, m.b, range, yRange);
    rTheta.set(m.theta_deg, fmt.deg(m.theta_deg));
    rFits.set(m.fits_mislabelled ? 1 : 0, m.fits_mislabelled ? 'fitted (on the J side)' : 'ignored (on the I side)');
    rErr.set(m.train_error, fmt.pct(m.train_error));
    rNorm.set(m.w_norm, fmt.num(m.w_norm));
    Plotly.react(plane, [
      { type: 'scatter', mode: 'markers', x: I.x, y: I.y, marker: { color: COLOURS.I, size: 6, opacity: 0.6 }, hoverinfo: 'skip' },
      { type: 'scatter', mode: 'markers', x: J.x, y: J.y, marker: { color: COLOURS.J, size: 6, opacity: 0.6 }, hoverinfo: 'skip' },
      { type: 'scatter', mode: 'markers+text', x: [P[2 * mis]], y: [P[2 * mis + 1]], text: ['mislabelled J'], textposition: 'top center',
        marker: { color: COLOURS.J, size: 14, line: { color: '#000', width: 2 }, symbol: 'circle-open-dot' }, hoverinfo: 'skip' },
      seg ? { type: 'scatter', mode: 'lines', x: seg.map((p) => p[0]), y: seg.map((p) => p[1]), line: { color: COLOURS.ink, width: 2 }, hoverinfo: 'skip' }
        : { type: 'scatter', x: [], y: [] },
    ], { ...planeLayout(range[1], ['x·e₁', 'x·e₂']), yaxis: { ...planeLayout(range[1], ['', 'x·e₂']).yaxis, range: yRange } }, PLOT_CONFIG);
    Plotly.restyle(curve, { x: [[grid[k]]], y: [[m.theta_deg]] }, [1]);
  }
  render();
}

export async function mount(root, store, plotly) {
  ensureStoryCss();
  const params = store.get(); // toyDimensionA/B, toyTiltA/B, toyLog10Lambda (state.js)
  const fig = el('div', { class: 'fig story-toy' });
  root.append(fig);
  const intro = el('p', { class: 'fig-note' });
  intro.innerHTML = 'Images of h×2h pixels, d = 2h² (1 ≤ h ≤ 50), and 28×28 (d = 784, the size of an MNIST image). Class I: left half at a level in [−1, −0.1] (blue), class J: in [0.1, 1] (orange); right half 0. Every image is a multiple of e₁, so all of them lie on one line, in any dimension. Only ‖x<sub>m</sub> − x‖ / ‖x‖ = 2|cos θ| matters: the absolute distance grows like h because ‖x‖ does.';
  const panels = el('div', { class: 'toy-panels' });
  fig.append(intro, panels);
  let Plotly;
  try { Plotly = await plotly; } catch (err) { showError(fig, err); return; }
  const states = [];
  const saveClosed = () => store.set({
    toyDimensionA: dimension(states[0].shape), toyTiltA: states[0].theta, toyDimensionB: dimension(states[1].shape), toyTiltB: states[1].theta,
  });
  PANELS.forEach((spec) => {
    const side = spec.key.toUpperCase();
    const initial = { d: params[`toyDimension${side}`] ?? spec.d, theta: params[`toyTilt${side}`] ?? spec.theta };
    states.push(mountPanel(panels, spec, initial, Plotly, () => saveClosed()));
  });
  try {
    const [manifest, arrays] = await Promise.all([getFigureData('toy'), loadFigureArrays('toy', ['train_plane', 'train_y', 'plane_weights'])]);
    mountTrained(fig, manifest, arrays, params.toyLog10Lambda ?? -5, Plotly, (log10Lambda) => store.set({ toyLog10Lambda: log10Lambda }));
  } catch (err) {
    showError(fig, err);
  }
}
