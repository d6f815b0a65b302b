// Scaling the loss: the histogram of y·d(x) (distance units, as in the tilting plane) of
// the current model, with the 0-1, hinge and softplus losses written in the same units:
// a point at signed distance t has score ‖w‖·t, so hinge = max(0, 1 − ‖w‖t) and
// softplus = log(1 + exp(−‖w‖t)). A slider changes ‖w‖; the model's own ‖w‖ is marked.
import { el, readout, fmt, follow, showError, COLOURS } from './ui.js';
import { histogramCanvas, lossPoints, losses } from './hist.js';
import { lambdaSlider } from './slider.js';
import { ensureStoryCss } from './story.js';

const NAMES = ['hist_edges', 'hist_train'];
const LOSS_TOP = 3; // the loss axis is cut here (said on the figure)

export function mount(root, store) {
  ensureStoryCss();
  const fig = el('div', { class: 'fig story-loss' });
  root.append(fig);
  let exp = null; let k = 0;
  let logW = store.get().lossLog10WNorm ?? null; // log10 ‖w‖ chosen by the reader; null: follow the model's own
  const slider = lambdaSlider(fig, { onInput: (kk) => store.set({ log10Lambda: exp.log10Lambdas[kk] }) });
  const wRow = el('div', { class: 'lambda-control' });
  const wLabel = el('label', { for: 'loss-wnorm' });
  const wInput = el('input', { id: 'loss-wnorm', type: 'range', step: '0.01', 'data-control': 'wnorm' });
  const reset = el('button', { type: 'button', text: 'Back to the model’s ‖w‖' });
  wRow.append(wLabel, wInput);
  fig.append(wRow, el('div', { class: 'snippet-actions' }, reset));
  const dl = el('dl', { class: 'readouts' });
  const rW = readout(dl, 'loss-w', '‖w‖ used for the losses');
  const rOwn = readout(dl, 'own-w', 'The model’s own ‖w‖');
  const rMargin = readout(dl, 'margin', 'Margin 1/‖w‖ (distance)');
  const rHinge = readout(dl, 'mean-hinge', 'Mean hinge ≈');
  const rAdv = readout(dl, 'adv-form', '1 − ‖w‖·d<sub>adv</sub>');
  const rErr = readout(dl, 'err-form', '‖w‖·d<sub>err</sub>');
  const plot = el('div', { class: 'plot loss-plot', role: 'img', 'aria-label': 'Histogram of y times d(x) with the 0-1, hinge and softplus losses scaled by the norm of w' });
  const note = el('p', { class: 'fig-note' });
  fig.append(dl, plot, note);
  const drawHistogram = histogramCanvas(plot, { height: 340 });

  wInput.addEventListener('input', () => { logW = Number(wInput.value); draw(); store.set({ lossLog10WNorm: logW }); });
  reset.addEventListener('click', () => { logW = null; draw(); store.set({ lossLog10WNorm: null }); });

  function draw() {
    const m = exp.model(k);
    const own = m.w_norm;
    const w = logW === null ? own : 10 ** logW;
    wInput.value = String(Math.log10(w));
    wLabel.innerHTML = `Scale <span class="lambda-value">‖w‖ = ${fmt.num(w)}</span>`;
    wInput.setAttribute('aria-valuetext', `norm of w = ${w.toPrecision(3)}`);
    reset.disabled = logW === null;
    const edges = exp.row('hist_edges', k);
    const counts = exp.row('hist_train', k);
    const n = counts.reduce((a, b) => a + b, 0);
    const centres = Array.from(counts, (_, i) => 0.5 * (edges[i] + edges[i + 1]));
    let mean = 0;
    centres.forEach((t, i) => { mean += (counts[i] / n) * losses.hinge(w, t); });
    rW.set(w, fmt.num(w));
    rOwn.set(own, fmt.num(own));
    rMargin.set(1 / w, fmt.num(1 / w));
    rHinge.set(mean, fmt.num(mean));
    rAdv.set(1 - w * m.d_adv, fmt.num(1 - w * m.d_adv));
    rErr.set(w * m.d_err, fmt.num(w * m.d_err));
    const lo = edges[0]; const hi = edges[edges.length - 1];
    const pad = 0.05 * (hi - lo);
    const range = [lo - pad, hi + pad];
    // 0-1 and hinge are straight between their jump or kink: two end points and that
    // point draw them exactly; softplus is sampled.
    const curve = (name, loss, where, colour, dash, width = 2.5) => ({
      name, colour, dash, width, ...lossPoints(loss, range[0], range[1], where),
    });
    const curves = [
      curve('0-1 loss', (t) => losses.zeroOne(w, t), { count: 1, jumps: [0] }, '#555', [2, 3], 2),
      curve('hinge', (t) => losses.hinge(w, t), { count: 1, kinks: [1 / w] }, COLOURS.J, []),
      curve('softplus', (t) => losses.softplus(w, t), { count: 200 }, COLOURS.I, [6, 4]),
    ];
    if (logW !== null) curves.push(curve('hinge at the model’s ‖w‖', (t) => losses.hinge(own, t), { count: 1, kinks: [1 / own] }, 'rgba(214,96,42,0.35)', [], 1.5));
    drawHistogram({
      edges, range, curves, lossTop: LOSS_TOP,
      bars: [{ name: 'training images', values: Array.from(counts, (c) => c / n), colour: 'rgba(120,120,120,0.35)', fill: true }],
      marks: [{ t: 0, colour: '#999' }, { t: 1 / w, colour: COLOURS.J, dash: [1, 3] }],
      titles: { x: 'y·d(x): signed distance to the boundary (pixel units)', y: 'share of images', loss: 'loss' },
    });
  }

  return follow(store, {
    names: NAMES,
    root,
    load(e) {
      exp = e;
      slider.setLog10Lambdas(e.log10Lambdas);
      const ws = e.manifest.models.map((m) => Math.log10(m.w_norm));
      wInput.min = String(Math.floor(Math.min(...ws)) - 1);
      wInput.max = String(Math.ceil(Math.max(...ws)) + 1);
      note.innerHTML = `${e.manifest.title}: training images (${e.manifest.counts.train.toLocaleString('en')}), histogram of their signed distances y·d(x) in ${e.arrays.hist_train.shape[1]} bins. The losses are drawn in the same distance units: a point at distance t scores ‖w‖·t. The loss axis is cut at ${LOSS_TOP}. The dotted orange line is the margin 1/‖w‖. “Mean hinge” is computed from the histogram's bin centres (approximate); d<sub>adv</sub> and d<sub>err</sub> are the model's exact values. With a small ‖w‖ every image sits inside the margin and the mean hinge is exactly 1 − ‖w‖·d<sub>adv</sub>: lowering it means pushing the average image away from the boundary. With a large ‖w‖ only misclassified images cost anything and the mean hinge approaches ‖w‖·d<sub>err</sub>: lowering it means pulling the mistakes closer to the boundary, whatever happens to the rest.`;
    },
    step(kk, state, changed) {
      k = kk;
      slider.set(k);
      if (changed.includes('log10Lambda') && logW !== null && !changed.includes('all')) { logW = null; store.set({ lossLog10WNorm: null }); }
      draw();
    },
    onError: (err) => showError(fig, err),
  });
}
