// Figure 1, the teaser: the training set in the tilting plane, one λ slider,
// train error and d_adv.
import { follow, el, readout, fmt, showError } from './ui.js';
import { lambdaSlider } from './slider.js';
import { planePlot } from './plane.js';

export const NAMES = ['train_u', 'train_v', 'train_y', 'centroids'];
export const HALF = ['train_v'];

export function mount(root, store, plotly = null) {
  root.classList.add('fig', 'fig-teaser');
  const plotDiv = el('div', { class: 'plot plane-plot', role: 'img', 'aria-label': 'Training images as points in the tilting plane, with the decision boundary, the direction ŵ and the band of width 2·d_adv.' });
  // The one question the figure asks, next to its slider: both inside the first screen
  // (a wide screen puts them beside the plot, a phone just under it).
  const question = el('p', { class: 'teaser-question', text: 'Drag λ: how close does the boundary come to the images?' });
  const controls = el('div', { class: 'controls' });
  const dl = el('dl', { class: 'readouts' });
  const legendBox = el('div', { class: 'teaser-legend' });
  const note = el('p', { class: 'fig-note' });
  root.append(el('div', { class: 'teaser-layout' }, question, plotDiv, controls, dl, legendBox, note));
  let exp = null;
  const slider = lambdaSlider(controls, {
    onInput: (k) => store.set({ log10Lambda: exp.log10Lambdas[k] }),
    describe: (k) => `tilt ${exp.model(k).theta_deg.toFixed(1)} degrees`,
  });
  const rTheta = readout(dl, 'theta', 'tilt θ');
  const rTrain = readout(dl, 'train_error', 'train error');
  const rAdv = readout(dl, 'd_adv', 'd<sub>adv</sub>');
  let plane = null;
  return follow(store, {
    plotly,
    root,
    names: NAMES,
    half: HALF,
    load(e) {
      exp = e;
      slider.setLog10Lambdas(e.log10Lambdas);
      const [i, j] = e.manifest.digits;
      plane = planePlot(plotDiv, e, { digits: [i, j], compact: true });
      legendBox.replaceChildren(plane.legend);
      note.textContent = `${e.manifest.counts.train.toLocaleString('en')} training images of ${i}s (blue) and ${j}s (orange); the images above the plot are the class means i and j. Both axes use the same scale, so angles are true, and the frame is the same for every λ. Positions are rounded to about three significant digits, to load fast.`;
    },
    step(k) {
      const m = exp.model(k);
      plane.render(k);
      slider.set(k);
      rTheta.set(m.theta_deg, fmt.deg(m.theta_deg));
      rTrain.set(m.train_error, fmt.pct(m.train_error));
      rAdv.set(m.d_adv, fmt.num(m.d_adv));
    },
    onError: (err) => showError(root, err),
  });
}
