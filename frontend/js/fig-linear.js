// Figure "linear classifiers too": a test digit + the smallest valid perturbation =
// an adversarial digit that the SVM at the current λ misclassifies.
import { follow, el, fmt, showError, setHtml } from './ui.js';
import { lambdaSlider } from './slider.js';
import { imageCanvas, drawGray, drawDiverging } from './images.js';
import { l2 } from './maths.js';
import { distancesAlongPath, adversarialAtModel } from './derive.js';
import { clearedContext, niceTicks } from './hist.js';
import { plotFont } from './ui.js';

// δ is drawn on one scale for every λ and every image: full colour at a change of ±0.5
// (half the way from blank paper to full ink), so a faint speckle looks faint.
export const DELTA_SCALE = 0.5;

export const NAMES = ['weights', 'intercepts', 'gallery_images', 'gallery_y'];

// A small 2-D canvas: ‖x̃ − x‖ and ‖x_m − x‖ against log10 λ, the current λ marked. Redrawn
// whole on each step (two 81-point lines: well under a millisecond).
const ADV = '#1b1b1b'; const MIRROR = '#7b2cbf';
function distanceCurve(box) {
  const canvas = document.createElement('canvas');
  const caption = el('figcaption', {});
  box.append(canvas, caption);
  let width = 0; let last = null;
  new ResizeObserver(([entry]) => {
    width = entry.contentRect.width;
    if (last) draw(last);
  }).observe(box);
  function draw(spec) {
    last = spec;
    const { log10Lambdas, k, adv, mirror } = spec;
    box.dataset.k = String(k);
    box.dataset.adv = String(adv[k]);
    box.dataset.mirror = String(mirror[k]);
    const W = Math.max(200, Math.round(width || box.clientWidth || 300)); const H = 190;
    const ctx = clearedContext(canvas, W, H);
    const font = plotFont().family;
    const M = { l: 34, r: 10, t: 26, b: 32 };
    const pw = W - M.l - M.r; const ph = H - M.t - M.b;
    const lo = log10Lambdas[0]; const hi = log10Lambdas[log10Lambdas.length - 1];
    let top = 0;
    for (const a of [adv, mirror]) for (const v of a) if (Number.isFinite(v)) top = Math.max(top, v);
    top = top > 0 ? top * 1.08 : 1;
    const X = (a) => M.l + ((a - lo) / (hi - lo)) * pw;
    const Y = (v) => M.t + ph - (v / top) * ph;
    ctx.font = `11px ${font}`; ctx.lineWidth = 1; ctx.strokeStyle = '#e6e6e6'; ctx.fillStyle = '#333';
    ctx.textAlign = 'center'; ctx.textBaseline = 'top';
    for (const t of niceTicks(lo, hi, Math.max(3, Math.floor(pw / 60)))) {
      ctx.beginPath(); ctx.moveTo(X(t), M.t); ctx.lineTo(X(t), M.t + ph); ctx.stroke();
      ctx.fillText(String(t).replace('-', '−'), X(t), M.t + ph + 3);
    }
    ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    for (const t of niceTicks(0, top, 4)) {
      ctx.beginPath(); ctx.moveTo(M.l, Y(t)); ctx.lineTo(M.l + pw, Y(t)); ctx.stroke();
      ctx.fillText(String(Number(t.toPrecision(4))), M.l - 4, Y(t));
    }
    ctx.textAlign = 'center'; ctx.textBaseline = 'bottom';
    ctx.fillText('log₁₀ λ', M.l + pw / 2, H - 1);
    const line = (values, colour, dash) => {
      ctx.beginPath(); let pen = false;
      values.forEach((v, i) => {
        if (!Number.isFinite(v)) { pen = false; return; }
        if (pen) ctx.lineTo(X(log10Lambdas[i]), Y(v)); else ctx.moveTo(X(log10Lambdas[i]), Y(v));
        pen = true;
      });
      ctx.setLineDash(dash); ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.stroke(); ctx.setLineDash([]);
    };
    line(mirror, MIRROR, [5, 3]);
    line(adv, ADV, []);
    // The current λ: a vertical rule and a dot on each curve.
    ctx.strokeStyle = '#c00'; ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(X(log10Lambdas[k]), M.t); ctx.lineTo(X(log10Lambdas[k]), M.t + ph); ctx.stroke();
    for (const [v, colour] of [[mirror[k], MIRROR], [adv[k], ADV]]) {
      if (!Number.isFinite(v)) continue;
      ctx.beginPath(); ctx.arc(X(log10Lambdas[k]), Y(v), 4, 0, 2 * Math.PI); ctx.fillStyle = colour; ctx.fill();
    }
    ctx.strokeStyle = '#333'; ctx.lineWidth = 1; ctx.strokeRect(M.l, M.t, pw, ph);
    // Legend on top.
    ctx.textAlign = 'left'; ctx.textBaseline = 'middle';
    let x = M.l;
    for (const [name, colour, dash] of [['‖x̃ − x‖', ADV, []], ['‖xₘ − x‖ (mirror)', MIRROR, [5, 3]]]) {
      ctx.setLineDash(dash); ctx.strokeStyle = colour; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.moveTo(x, 10); ctx.lineTo(x + 16, 10); ctx.stroke(); ctx.setLineDash([]);
      ctx.fillStyle = '#333'; ctx.fillText(name, x + 20, 10);
      x += 28 + ctx.measureText(name).width;
    }
    const f = (v) => (Number.isFinite(v) ? v.toFixed(2) : 'none');
    setHtml(caption, `at this λ: ‖x̃ − x‖ = <b data-readout="adv-distance" data-value="${adv[k]}">${f(adv[k])}</b>, ‖x<sub>m</sub> − x‖ = <b data-readout="mirror-distance" data-value="${mirror[k]}">${f(mirror[k])}</b>`);
  }
  return { draw };
}

function panel(caption, side) {
  const canvas = imageCanvas(side, caption);
  const label = el('figcaption', {});
  return { canvas, label, node: el('figure', { class: 'digit-panel' }, canvas, label) };
}

export function mount(root, store, plotly = null) {
  root.classList.add('fig', 'fig-linear');
  const row = el('div', { class: 'equation-row' });
  const controls = el('div', { class: 'controls' });
  const picker = el('div', { class: 'picker', role: 'group', 'aria-label': 'Choose the test digit' });
  const prev = el('button', { type: 'button', text: '← previous digit' });
  const next = el('button', { type: 'button', text: 'next digit →' });
  picker.append(prev, next);
  const note = el('p', { class: 'fig-note' });
  const curveBox = el('figure', { class: 'distance-curve', role: 'img', 'aria-label': 'Size of the change against λ: the smallest valid-image adversarial and the mirror image' });
  const top = el('div', { class: 'linear-layout' }, row, curveBox);
  root.append(top, controls, picker, note);
  const curve = distanceCurve(curveBox);
  const distances = new Map(); // gallery index → per-model ‖x̃ − x‖ and ‖x_m − x‖, computed once
  let exp = null; let panels = null; let G = 0;
  const slider = lambdaSlider(controls, { onInput: (k) => store.set({ log10Lambda: exp.log10Lambdas[k] }) });
  // Without ?g= the figure shows the bundle's default x (manifest.defaults, a typical class-I image).
  const galleryIndex = (state) => {
    const g = Number.parseInt(state.g, 10);
    if (Number.isInteger(g) && g >= 0 && g < G) return g;
    const chosen = exp?.manifest.defaults?.x?.gallery;
    return Number.isInteger(chosen) && chosen >= 0 && chosen < G ? chosen : 0;
  };
  prev.addEventListener('click', () => store.set({ g: String((galleryIndex(store.get()) + G - 1) % G) }));
  next.addEventListener('click', () => store.set({ g: String((galleryIndex(store.get()) + 1) % G) }));

  // Both distances for every model, once per image (derive.distancesAlongPath).
  function distancesFor(g, x) {
    if (!distances.has(g)) distances.set(g, distancesAlongPath(exp, x));
    return distances.get(g);
  }

  return follow(store, {
    plotly,
    root,
    names: NAMES,
    fields: ['log10Lambda', 'g'],
    load(e) {
      exp = e;
      G = e.arrays.gallery_y.data.length;
      slider.setLog10Lambdas(e.log10Lambdas);
      row.replaceChildren();
      panels = [panel('test digit x', e.side), panel('perturbation δ', e.side), panel('adversarial x + δ', e.side)];
      row.append(panels[0].node, el('span', { class: 'op', 'aria-hidden': 'true', text: '+' }), panels[1].node,
        el('span', { class: 'op', 'aria-hidden': 'true', text: '=' }), panels[2].node);
      distances.clear();
      note.textContent = 'δ is the smallest change (in L2 norm) that keeps every pixel in [0, 1] and crosses the boundary. It is drawn on one fixed scale for every λ: blue lowers a pixel, orange raises it, full colour at a change of ±0.5 (half the way from blank paper to full ink) or more, so a faint speckle looks faint. Right: the size of that change, ‖x̃ − x‖, and of the mirror image\'s, ‖x_m − x‖ = 2|d(x)|, for every λ; the dot marks the current λ.';
    },
    step(k, state) {
      slider.set(k);
      const [di, dj] = exp.manifest.digits;
      const g = galleryIndex(state);
      const x = exp.arrays.gallery_images.data.subarray(g * exp.dim, (g + 1) * exp.dim);
      const { score: s, adv, advScore: sAdv, delta } = adversarialAtModel(exp, x, k);
      const name = (v) => (v > 0 ? dj : di);
      drawGray(panels[0].canvas, x, exp.side);
      drawDiverging(panels[1].canvas, delta, exp.side, DELTA_SCALE);
      curve.draw({ log10Lambdas: exp.log10Lambdas, k, ...distancesFor(g, x) });
      drawGray(panels[2].canvas, adv.image, exp.side);
      const truth = exp.arrays.gallery_y.data[g] > 0 ? dj : di;
      setHtml(panels[0].label, `a ${truth} from the test set<br>SVM says <b data-pred="x">${name(s)}</b> (score <span data-score="x">${fmt.signed(s)}</span>)`);
      setHtml(panels[1].label, Number.isFinite(adv.distance)
        ? `‖δ‖ = <span data-readout="delta">${adv.distance.toFixed(2)}</span> (‖x‖ = ${l2(x).toFixed(1)})`
        : 'no valid image crosses the boundary');
      setHtml(panels[2].label, `SVM says <b data-pred="adv">${name(sAdv)}</b> (score <span data-score="adv">${fmt.signed(sAdv)}</span>)`);
      panels[1].canvas.setAttribute('aria-label', `perturbation of norm ${adv.distance.toFixed(2)}`);
      panels[2].canvas.setAttribute('aria-label', `adversarial image, classified as ${name(sAdv)}`);
    },
    onError: (err) => showError(root, err),
  });
}
