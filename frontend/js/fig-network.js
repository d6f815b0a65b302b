// Adversarial examples beyond linear models: a small ReLU network trained here on MNIST
// at a sweep of weight decays, and for one test image of each digit a targeted attack
// towards every digit (bundle "network-mnist"), by two protocols: at the network's own
// softmax, and at the temperature that makes its median test score 0.95 (the original
// article's). The grid shows each attack's result; a cell opens the original, the
// perturbation and the adversarial image, with the target's probability recomputed in
// this browser from the stored weights.
import { loadFigureArrays } from './data.js';
import { el, readout, fmt, showError, fmtWeightDecay } from './ui.js';
import { imageCanvas, drawGray, drawDiverging } from './images.js';
import { ensureStoryCss } from './story.js';
import { FIGURE, loadNetwork, weightDecaySlider, currentNet, onNetChange } from './fig-network-common.js';

const GRID = ['adversarials', 'target_probability', 'l2_norms', 'steps', 'reached'];
// Network k's weights, one array each (fetched only for the networks a reader checks).
const weightNames = (k) => ['coef_0', 'intercept_0', 'coef_1', 'intercept_1'].map((n) => `${n}_k${k}`);
// Array names of each protocol's grid.
const PROTOCOL_ARRAYS = { own: GRID, cal: GRID.map((n) => `cal_${n}`) };

// h = relu(x W0 + b0); p = softmax((h W1 + b1)/T) with one network's weights w (the
// manifest's "forward" rule; T = 1 is the network's own softmax).
export function forward(x, w, temperature = 1) {
  const [n0, n1] = w.W0.shape;
  const n2 = w.W1.shape[1];
  const W0 = w.W0.data;
  const W1 = w.W1.data;
  const hidden = Float64Array.from(w.b0.data);
  for (let i = 0; i < n0; i++) {
    const xi = x[i];
    if (xi === 0) continue;
    const row = i * n1;
    for (let j = 0; j < n1; j++) hidden[j] += xi * W0[row + j];
  }
  const logits = Float64Array.from(w.b1.data);
  for (let j = 0; j < n1; j++) {
    const h = Math.max(0, hidden[j]);
    if (h === 0) continue;
    for (let c = 0; c < n2; c++) logits[c] += h * W1[j * n2 + c];
  }
  const top = Math.max(...logits);
  const e = logits.map((z) => Math.exp((z - top) / temperature));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

// The display factor for perturbations: 1/(99th percentile of |δ| of the weakly
// regularized network), rounded down to 1, 2 or 5 × 10^n; one factor for both networks.
function magnification(adv, originals, dim) {
  const values = [];
  for (let s = 0; s < 10; s++) for (let t = 0; t < 10; t++) {
    if (s === t) continue;
    const off = (s * 10 + t) * dim;
    for (let i = 0; i < dim; i++) {
      const d = Math.abs(adv[off + i] - originals[s * dim + i]);
      if (d > 0) values.push(d);
    }
  }
  values.sort((a, b) => a - b);
  const raw = 1 / (values[Math.floor(0.99 * (values.length - 1))] || 1);
  const decade = 10 ** Math.floor(Math.log10(raw));
  return [5, 2, 1].map((m) => m * decade).find((f) => f <= raw) ?? decade;
}

export async function mount(root, store) {
  ensureStoryCss();
  const asked = store.get();
  const state = { view: asked.networkView ?? 'adv', cell: asked.networkCell ?? '2-0', proto: asked.networkProtocol ?? 'own' };
  const fig = el('div', { class: 'fig story-network' });
  root.append(fig);
  let manifest; let originals; const grids = {};
  const gridOf = async (proto) => {
    grids[proto] ??= loadFigureArrays(FIGURE, PROTOCOL_ARRAYS[proto]).then((g) => Object.fromEntries(GRID.map((n, i) => [n, g[PROTOCOL_ARRAYS[proto][i]]])));
    return grids[proto];
  };
  try {
    [[manifest, { originals }]] = await Promise.all([loadNetwork(['originals']), gridOf(state.proto)]);
  } catch (err) {
    showError(fig, err);
    return;
  }
  let a = { originals, ...(await gridOf(state.proto)) };
  const side = manifest.dataset.image_side;
  const dim = side * side;
  const models = manifest.models;
  const K = models.length;
  const threshold = manifest.attack.threshold;
  const own = state.proto === 'own' ? a : { originals, ...(await gridOf('own')) };
  const factor = magnification(own.adversarials.data, originals.data, dim);
  // The weights (0.8 MB per network) are for the live check only: fetched once the detail panel is
  // on screen, not with the grid.
  const weights = {}; // k → promise of { W0, b0, W1, b1 }
  const weightsOf = (k) => {
    weights[k] ??= loadFigureArrays(FIGURE, weightNames(k)).then((w) => {
      const [W0, b0, W1, b1] = weightNames(k).map((n) => w[n]);
      return { W0, b0, W1, b1 };
    });
    return weights[k];
  };
  let detailSeen = false;

  weightDecaySlider(fig, manifest);
  const toolbar = el('div', { class: 'toolbar', role: 'group', 'aria-label': 'What the grid shows' });
  const viewSelect = el('select', { 'aria-label': 'What the grid shows', 'data-control': 'view' });
  viewSelect.append(el('option', { value: 'adv', text: 'Adversarial images' }),
    el('option', { value: 'pert', text: `Perturbations, magnified ×${factor}` }));
  viewSelect.addEventListener('change', () => set({ view: viewSelect.value }));
  const protoSelect = el('select', { 'aria-label': 'Attack protocol', 'data-control': 'protocol' });
  protoSelect.append(el('option', { value: 'own', text: 'Attack the network’s own softmax' }),
    el('option', { value: 'cal', text: `Calibrate first (median test score ${manifest.attack_calibrated.median_test_score}), as the original article` }));
  protoSelect.addEventListener('change', async () => {
    const proto = protoSelect.value;
    try { a = { originals, ...(await gridOf(proto)) }; } catch (err) { showError(fig, err); return; }
    set({ proto });
  });
  toolbar.append(protoSelect, viewSelect); // the view last: Tab goes from it into the grid

  const dl = el('dl', { class: 'readouts' });
  const rAcc = readout(dl, 'test-accuracy', `Test accuracy (${manifest.counts.test.toLocaleString('en')} images)`);
  const rTemp = readout(dl, 'temperature', 'Softmax temperature T');
  const rReached = readout(dl, 'reached', `Attacks reaching p ≥ ${threshold}`);
  const rMedian = readout(dl, 'median-l2', 'Median ‖δ‖₂ of those');
  const rNorm = readout(dl, 'weight-norm', 'Weight norm ‖W‖');

  // One tab stop for the 100 cells (a roving tabindex): Tab enters on the chosen cell,
  // arrow keys, Home and End move and choose, Tab leaves.
  const gridHelp = el('p', { hidden: '', id: 'net-grid-help', text: 'Arrow keys move between cells and show the chosen attack below; Home and End go to the ends of a row.' });
  const grid = el('div', { class: 'net-grid', role: 'group', 'aria-label': 'Attacks: rows are the original digit, columns the target digit', 'aria-describedby': 'net-grid-help' });
  grid.append(el('div', { class: 'net-corner', text: 'from ↓ to →', 'aria-hidden': 'true' }));
  for (let t = 0; t < 10; t++) grid.append(el('div', { class: 'net-head', text: String(t), 'aria-hidden': 'true' }));
  const cells = [];
  for (let s = 0; s < 10; s++) {
    grid.append(el('div', { class: 'net-head', text: String(s), 'aria-hidden': 'true' }));
    for (let t = 0; t < 10; t++) {
      // The button's name comes from its content: the image's label, then the visible
      // probability, so what a speech user sees is what they can say.
      const canvas = imageCanvas(side, s === t ? `original ${s}` : `${s} pushed towards ${t}`);
      const prob = el('span', { class: 'net-prob' });
      const button = el('button', { type: 'button', class: 'net-cell', 'data-cell': `${s}-${t}`, tabindex: '-1' }, canvas, prob);
      button.addEventListener('click', () => set({ cell: `${s}-${t}` }));
      cells.push({ s, t, canvas, prob, button });
      grid.append(button);
    }
  }
  const MOVES = {
    ArrowRight: ([s, t]) => [s, Math.min(9, t + 1)], ArrowLeft: ([s, t]) => [s, Math.max(0, t - 1)],
    ArrowDown: ([s, t]) => [Math.min(9, s + 1), t], ArrowUp: ([s, t]) => [Math.max(0, s - 1), t],
    Home: ([s]) => [s, 0], End: ([s]) => [s, 9],
  };
  grid.addEventListener('keydown', (ev) => {
    const move = MOVES[ev.key];
    const from = ev.target.closest?.('.net-cell');
    if (!move || !from || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    ev.preventDefault();
    const [s, t] = move(from.dataset.cell.split('-').map(Number));
    set({ cell: `${s}-${t}` });
    cells[s * 10 + t].button.focus();
  });

  const detail = el('div', { class: 'net-detail' });
  const panels = ['original', 'perturbation', 'adversarial'].map((name) => {
    const canvas = imageCanvas(side, name);
    const caption = el('figcaption');
    detail.append(el('figure', { class: 'digit-panel' }, canvas, caption));
    return { canvas, caption };
  });
  const facts = el('dl', { class: 'readouts net-facts' });
  const rStored = readout(facts, 'stored-probability', 'p(target), stored');
  const rLive = readout(facts, 'live-probability', 'p(target), recomputed here');
  const rL2 = readout(facts, 'cell-l2', '‖δ‖₂ (pixel units)');
  const rSteps = readout(facts, 'steps', 'Gradient steps');
  detail.append(facts);

  const note = el('p', { class: 'fig-note' });
  note.innerHTML = `Network: ${manifest.architecture.layers.join('–')} units, ReLU, trained here on all ${manifest.counts.train.toLocaleString('en')} ${manifest.dataset.name === 'mnist' ? 'MNIST' : '8×8 digits'} training images (scikit-learn, ${manifest.architecture.epochs} epochs), once for each of ${K} weight decays α from ${fmtWeightDecay(manifest.grid.weight_decay[0])} to ${fmtWeightDecay(manifest.grid.weight_decay[K - 1])}. Each row is one test image (the first of its digit that all ${K} networks classify correctly); each off-diagonal cell is a targeted attack: steps of L2 length ${manifest.attack.step} up the gradient of log p(target), pixels kept in [0, 1], until p(target) ≥ ${threshold} or ${manifest.attack.max_steps.toLocaleString('en')} steps. The calibrated protocol first divides the scores by the temperature T at which the network's median test score is ${manifest.attack_calibrated.median_test_score}, then does the same. The diagonal shows the original. A cell outlined in red did <em>not</em> reach the threshold. Perturbations use one colour scale for every network (×${factor}: orange adds ink, blue removes it; |δ| above ${(1 / factor).toFixed(2)} is drawn at full colour).`;
  const temperatureOf = (k) => (state.proto === 'cal' ? models[k].temperature : 1);
  fig.append(toolbar, dl, gridHelp, el('div', { class: 'net-layout' }, grid, detail), note);

  const at = (k, s, t) => ((k * 10 + s) * 10 + t);
  const imageOf = (k, s, t) => a.adversarials.data.subarray(at(k, s, t) * dim, (at(k, s, t) + 1) * dim);
  const perturbation = (k, s, t) => {
    const adv = imageOf(k, s, t);
    const out = new Float32Array(dim);
    for (let i = 0; i < dim; i++) out[i] = adv[i] - a.originals.data[s * dim + i];
    return out;
  };
  let liveToken = 0;

  function render() {
    const k = currentNet(K);
    const m = models[k];
    const summary = state.proto === 'cal' ? m.attack_calibrated : m.attack;
    viewSelect.value = state.view;
    protoSelect.value = state.proto;
    rAcc.set(m.test_accuracy, fmt.pct(m.test_accuracy));
    rTemp.set(temperatureOf(k), temperatureOf(k) === 1 ? '1 (own softmax)' : temperatureOf(k).toPrecision(3));
    rReached.set(summary.attacks_reached, `${summary.attacks_reached} / ${summary.attacks}`);
    rMedian.set(summary.median_l2_reached ?? '', summary.median_l2_reached === null ? 'n/a' : summary.median_l2_reached.toFixed(2));
    rNorm.set(m.weight_norm, m.weight_norm.toFixed(1));
    grid.dataset.net = String(k);
    for (const c of cells) {
      const i = at(k, c.s, c.t);
      const p = a.target_probability.data[i];
      const reached = a.reached.data[i] === 1;
      const diagonal = c.s === c.t;
      if (state.view === 'pert' && !diagonal) drawDiverging(c.canvas, perturbation(k, c.s, c.t), side, 1 / factor);
      else drawGray(c.canvas, imageOf(k, c.s, c.t), side);
      c.prob.textContent = diagonal ? 'orig.' : `${Math.floor(100 * p)} %`;
      c.button.classList.toggle('not-reached', !diagonal && !reached);
      c.button.classList.toggle('diagonal', diagonal);
      const chosen = state.cell === `${c.s}-${c.t}`;
      c.button.setAttribute('aria-pressed', String(chosen));
      c.button.tabIndex = chosen ? 0 : -1;
      c.canvas.setAttribute('aria-label', diagonal ? `original ${c.s}`
        : `${c.s} pushed towards ${c.t}${reached ? '' : ' (threshold not reached)'}, ‖δ‖ ${a.l2_norms.data[i].toFixed(2)}, p(${c.t})`);
    }
    renderDetail();
  }

  function renderDetail() {
    const k = currentNet(K);
    const [s, t] = state.cell.split('-').map(Number);
    const i = at(k, s, t);
    const reached = a.reached.data[i] === 1;
    drawGray(panels[0].canvas, a.originals.data.subarray(s * dim, (s + 1) * dim), side);
    drawDiverging(panels[1].canvas, perturbation(k, s, t), side, 1 / factor);
    drawGray(panels[2].canvas, imageOf(k, s, t), side);
    panels[0].caption.textContent = `test image #${manifest.original_index[s]}, a ${s}`;
    panels[1].caption.textContent = `δ, shown ×${factor}`;
    panels[2].caption.textContent = s === t ? 'no attack (the original)'
      : `${reached ? 'classified' : 'not yet'} a ${t}${reached ? '' : ` (p < ${threshold})`}`;
    detail.classList.toggle('not-reached', s !== t && !reached);
    const p = a.target_probability.data[i];
    rStored.set(p, `${(100 * p).toFixed(1)} %`);
    rL2.set(a.l2_norms.data[i], a.l2_norms.data[i].toFixed(3));
    rSteps.set(a.steps.data[i], `${a.steps.data[i]}${reached || s === t ? '' : ' (limit)'}`);
    rLive.set('', detailSeen ? 'computing…' : 'computed when in view');
    const mine = ++liveToken;
    if (!detailSeen) return;
    const temperature = temperatureOf(k);
    const image = imageOf(k, s, t);
    weightsOf(k).then((w) => {
      if (mine !== liveToken) return;
      const probs = forward(image, w, temperature);
      rLive.set(probs[t], `${(100 * probs[t]).toFixed(1)} %`);
    }).catch((err) => rLive.set('', `unavailable: ${err.message}`));
  }

  function set(patch) {
    Object.assign(state, patch);
    render();
    store.set({ networkView: state.view, networkCell: state.cell, networkProtocol: state.proto === 'own' ? undefined : state.proto });
  }
  onNetChange(() => render());
  render();
  new IntersectionObserver(([entry], observer) => {
    if (!entry.isIntersecting) return;
    observer.disconnect();
    detailSeen = true;
    renderDetail();
  }).observe(detail);
}
