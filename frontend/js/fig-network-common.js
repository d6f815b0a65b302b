// What the network figures share (bundle "network-mnist"): the data, the weight decay the
// reader has chosen, and the slider that chooses it. One page holds one choice: every
// network figure on it follows the same α, the way every SVM figure follows the same λ.
// The choice is kept in the URL as `net` (the index of the network in the sweep).
import { getFigureData, loadFigureArrays } from './data.js';
import { el, fmtWeightDecay, showError } from './ui.js';
import { ensureStoryCss } from './story.js';
import { pageState } from './state.js';

export const FIGURE = 'network-mnist';

// The bundle's manifest and the named arrays. In the article, the first figure to load also
// fills the last section's numbers (network-prose.js; embeds have no such prose).
let prose = null;
export function loadNetwork(names = []) {
  const manifest = getFigureData(FIGURE);
  if (!prose && document.querySelector('[data-net-fact]')) {
    prose = Promise.all([manifest, import('./network-prose.js')])
      .then(([m, mod]) => mod.fillNetworkProse(m))
      .catch(() => {}); // the figure itself reports a failed load
  }
  return Promise.all([manifest, names.length ? loadFigureArrays(FIGURE, names) : {}]);
}

// The start of every sweep figure: its box in `root`, then the manifest, the named arrays
// and plotly.js, all at once. Resolves to { fig, manifest, a, Plotly }, or to null after
// saying in the figure's box what did not load.
export async function openFigure(root, className, names, plotly) {
  ensureStoryCss();
  const fig = el('div', { class: `fig ${className}` });
  root.append(fig);
  try {
    const [[manifest, a], Plotly] = await Promise.all([loadNetwork(names), plotly]);
    return { fig, manifest, a, Plotly };
  } catch (err) {
    showError(fig, err);
    return null;
  }
}

// The shared choice is the store's `networkModel` (URL key `net`, a row of state.js's
// table), so the URL, the embed snippets and every network figure follow one value.
export function currentNet(K) {
  return Math.max(0, Math.min(pageState().store.get().networkModel ?? 0, K - 1));
}

export function onNetChange(listener) {
  return pageState().store.subscribe((state, changed) => { if (changed.includes('networkModel')) listener(state.networkModel); });
}

export function setNet(k) {
  pageState().store.set({ networkModel: k });
}

let counter = 0;

// The weight-decay slider: a native range input over the sweep's networks (keyboard, touch
// and screen readers for free), following and setting the shared choice.
export function weightDecaySlider(parent, manifest) {
  const weightDecays = manifest.grid.weight_decay;
  const id = `net-decay-${++counter}`;
  const wrap = el('div', { class: 'lambda-control net-decay-control' });
  const label = el('label', { for: id });
  const input = el('input', { id, type: 'range', min: '0', max: String(weightDecays.length - 1), step: '1', 'data-control': 'net' });
  const ticks = el('div', { class: 'net-decay-ticks', 'aria-hidden': 'true' }, ...weightDecays.map((a, k) => {
    const tick = el('span', { text: fmtWeightDecay(a) });
    tick.style.left = `${(100 * k) / Math.max(1, weightDecays.length - 1)}%`;
    return tick;
  }));
  wrap.append(label, input, ticks);
  parent.append(wrap);
  const show = (k) => {
    input.value = String(k);
    label.innerHTML = `Weight decay <span class="lambda-value">α = ${fmtWeightDecay(weightDecays[k])}</span>`;
    const m = manifest.models[k];
    input.setAttribute('aria-valuetext', `weight decay alpha = ${weightDecays[k]}, test error ${(100 * m.test_error).toFixed(1)} percent`);
  };
  input.addEventListener('input', () => { show(Number(input.value)); setNet(Number(input.value)); });
  show(currentNet(weightDecays.length));
  onNetChange((k) => show(Math.min(k, weightDecays.length - 1)));
  return input;
}

// Quantiles of a numeric array (linear interpolation, as numpy's default).
export function quantile(values, q) {
  const sorted = Float64Array.from(values).sort();
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

// The values of row k of a (K, …) array.
export function rowOf(array, k) {
  const width = array.data.length / array.shape[0];
  return array.data.subarray(k * width, (k + 1) * width);
}

// Off-diagonal, reached entries of a (K, 10, 10) array for network k.
export function reachedValues(values, reached, k) {
  const out = [];
  for (let s = 0; s < 10; s++) for (let t = 0; t < 10; t++) {
    const i = (k * 10 + s) * 10 + t;
    if (s !== t && reached.data[i] === 1) out.push(values.data[i]);
  }
  return out;
}
