// Figure "linear classifiers too": a test digit + the smallest valid perturbation =
// an adversarial digit that the SVM at the current λ misclassifies.
import { follow, el, fmt, showError, setHtml } from './ui.js';
import { lambdaSlider } from './slider.js';
import { imageCanvas, drawGray, drawDiverging } from './images.js';
import { boxAdversarial, score, l2 } from './maths.js';

export const NAMES = ['weights', 'intercepts', 'gallery_images', 'gallery_y'];

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
  root.append(row, controls, picker, note);
  let exp = null; let panels = null; let G = 0;
  const slider = lambdaSlider(controls, { onInput: (k) => store.set({ lambda: exp.grid[k] }) });
  const galleryIndex = (state) => {
    const g = Number.parseInt(state.g, 10);
    return Number.isInteger(g) && g >= 0 && g < G ? g : 0;
  };
  prev.addEventListener('click', () => store.set({ g: String((galleryIndex(store.get()) + G - 1) % G) }));
  next.addEventListener('click', () => store.set({ g: String((galleryIndex(store.get()) + 1) % G) }));

  return follow(store, {
    plotly,
    root,
    names: NAMES,
    load(e) {
      exp = e;
      G = e.arrays.gallery_y.data.length;
      slider.setGrid(e.grid);
      row.replaceChildren();
      panels = [panel('test digit x', e.side), panel('perturbation δ', e.side), panel('adversarial x + δ', e.side)];
      row.append(panels[0].node, el('span', { class: 'op', 'aria-hidden': 'true', text: '+' }), panels[1].node,
        el('span', { class: 'op', 'aria-hidden': 'true', text: '=' }), panels[2].node);
      note.textContent = 'δ is the smallest change (in L2 norm) that keeps every pixel in [0, 1] and crosses the boundary; its colours are scaled to its largest pixel (blue lowers a pixel, orange raises it), so faint perturbations look as strong as big ones.';
    },
    step(k, state) {
      slider.set(k);
      const [di, dj] = exp.manifest.digits;
      const g = galleryIndex(state);
      const x = exp.arrays.gallery_images.data.subarray(g * exp.dim, (g + 1) * exp.dim);
      const w = exp.row('weights', k);
      const b = exp.arrays.intercepts.data[k];
      const s = score(x, w, b);
      const adv = boxAdversarial(x, w, b);
      const sAdv = score(adv.image, w, b);
      const name = (v) => (v > 0 ? dj : di);
      const delta = adv.image.map((v, i) => v - x[i]);
      drawGray(panels[0].canvas, x, exp.side);
      drawDiverging(panels[1].canvas, delta, exp.side);
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
