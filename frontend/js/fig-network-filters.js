// What the network learned: the input weights of a fixed set of hidden units as 28×28
// images, the output layer's weights as a 10 × hidden matrix, and each layer's RMS weight
// across the sweep. Every network starts from the same initial weights (one seed), so
// unit u is the same unit at every weight decay.
import { loadFigureArrays } from './data.js';
import { el, readout, showError, PLOT_CONFIG, plotFont, COLOURS, fmtWeightDecay } from './ui.js';
import { imageCanvas, drawDiverging, drawDivergingRect } from './images.js';
import { FIGURE, openFigure, weightDecaySlider, currentNet, onNetChange, rowOf } from './fig-network-common.js';

export async function mount(root, store, plotly) {
  const opened = await openFigure(root, 'story-network-filters', ['filters'], plotly);
  if (!opened) return;
  const { fig, manifest, a, Plotly } = opened;
  const K = manifest.models.length;
  const side = manifest.dataset.image_side;
  const dim = side * side;
  const units = manifest.filter_units;
  const [, hidden, classes] = manifest.architecture.layers;
  weightDecaySlider(fig, manifest);
  const dl = el('dl', { class: 'readouts' });
  const rRms = manifest.models[0].rms_weights.map((_, l) => readout(dl, `net-rms-${l}`, `RMS weight, layer ${l + 1} (${manifest.architecture.layers[l]} → ${manifest.architecture.layers[l + 1]})`));
  const rScale = readout(dl, 'net-filter-scale', 'Full colour at |weight| =');

  const filters = el('div', { class: 'net-filters', role: 'group', 'aria-label': `Input weights of hidden units ${units[0]} to ${units[units.length - 1]}` });
  const canvases = units.map((u) => {
    const canvas = imageCanvas(side, `input weights of hidden unit ${u}`);
    filters.append(el('figure', { class: 'digit-panel' }, canvas, el('figcaption', { text: `unit ${u}` })));
    return canvas;
  });
  const out = el('canvas', { class: 'net-output-weights', role: 'img', 'aria-label': `Output weights: ${classes} rows (digits 0 to 9) by ${hidden} hidden units` });
  const outBox = el('figure', { class: 'digit-panel net-output-panel' }, out, el('figcaption', { text: `output layer: digits 0–9 (rows) × ${hidden} hidden units` }));
  const plot = el('div', { class: 'plot net-rms-plot', role: 'img', 'aria-label': 'RMS weight of each layer against weight decay, the chosen weight decay marked' });
  const note = el('p', { class: 'fig-note' });
  note.textContent = `Left: the input weights of the first ${units.length} of the ${hidden} hidden units, each a ${side}×${side} image (orange: ink raises the unit's input, blue: lowers it). Each network's images share one colour scale, full colour at its largest |weight| among these units (a display normalisation: the RMS readouts give the real size). Below: the output layer's weights, one row per digit, on their own scale. Right: each layer's RMS weight for every weight decay.`;
  fig.append(dl, el('div', { class: 'net-filters-layout' }, el('div', {}, filters, outBox), plot), note);

  const weightDecays = manifest.grid.weight_decay;
  const rms = (l) => manifest.models.map((m) => m.rms_weights[l]);
  const layerColours = [COLOURS.I, COLOURS.J, '#555'];
  Plotly.react(plot, [
    ...manifest.models[0].rms_weights.map((_, l) => ({ type: 'scatter', mode: 'lines+markers', name: `layer ${l + 1}`, x: weightDecays, y: rms(l), line: { color: layerColours[l % 3] } })),
    { type: 'scatter', mode: 'markers', x: [], y: [], marker: { color: '#c00', size: 11, symbol: 'circle-open', line: { width: 2 } }, hoverinfo: 'skip', showlegend: false },
  ], {
    margin: { l: 56, r: 8, t: 8, b: 40 }, font: plotFont(), legend: { orientation: 'h', y: 1.1, x: 0 },
    xaxis: { title: { text: 'weight decay α', standoff: 4 }, type: 'log', gridcolor: COLOURS.grid, exponentformat: 'power' },
    yaxis: { title: { text: 'RMS weight', standoff: 4 }, type: 'log', gridcolor: COLOURS.grid, exponentformat: 'power' },
  }, PLOT_CONFIG);
  const outRect = new Float32Array(classes * hidden);
  // The output layer's weights: network k's own array, fetched when first shown (10 kB).
  let outToken = 0;
  function drawOutput(k) {
    const mine = ++outToken;
    loadFigureArrays(FIGURE, [`coef_1_k${k}`]).then((w) => {
      if (mine !== outToken) return;
      const w1 = w[`coef_1_k${k}`].data; // (hidden, classes): transposed into rows of digits
      let outScale = 0;
      for (let j = 0; j < hidden; j++) for (let c = 0; c < classes; c++) {
        outRect[c * hidden + j] = w1[j * classes + c];
        outScale = Math.max(outScale, Math.abs(w1[j * classes + c]));
      }
      drawDivergingRect(out, outRect, hidden, classes, outScale || 1);
      out.dataset.net = String(k);
    }).catch((err) => showError(fig, err));
  }

  function render() {
    const k = currentNet(K);
    const f = rowOf(a.filters, k);
    let scale = 0;
    for (let i = 0; i < f.length; i++) scale = Math.max(scale, Math.abs(f[i]));
    canvases.forEach((c, u) => drawDiverging(c, f.subarray(u * dim, (u + 1) * dim), side, scale || 1));
    drawOutput(k);
    manifest.models[k].rms_weights.forEach((v, l) => rRms[l].set(v, v.toPrecision(3)));
    rScale.set(scale, `${scale.toPrecision(3)} (α = ${fmtWeightDecay(weightDecays[k])})`);
    Plotly.restyle(plot, { x: [manifest.models[k].rms_weights.map(() => weightDecays[k])], y: [manifest.models[k].rms_weights] }, [manifest.models[k].rms_weights.length]);
  }
  onNetChange(render);
  render();
}
