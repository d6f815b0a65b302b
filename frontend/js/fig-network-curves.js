// Training curves of the network sweep: train and test error after every epoch, for the
// chosen weight decay (bold) and the others (faint), read from the training history stored
// in the bundle (the errors of the weights as they were after each epoch).
import { el, readout, fmt, PLOT_CONFIG, plotFont, COLOURS, fmtWeightDecay } from './ui.js';
import { openFigure, weightDecaySlider, currentNet, onNetChange, rowOf } from './fig-network-common.js';

export async function mount(root, store, plotly) {
  const opened = await openFigure(root, 'story-network-curves', ['history_train_error', 'history_test_error'], plotly);
  if (!opened) return;
  const { fig, manifest, a, Plotly } = opened;
  const K = manifest.models.length;
  weightDecaySlider(fig, manifest);
  const dl = el('dl', { class: 'readouts' });
  const rTrain = readout(dl, 'net-train-error', 'Training error, last epoch');
  const rTest = readout(dl, 'net-test-error', 'Test error, last epoch');
  const rGap = readout(dl, 'net-gap', 'Test − training');
  const plot = el('div', { class: 'plot net-curves-plot', role: 'img', 'aria-label': 'Training and test error of the network against the training epoch, for every weight decay; the chosen one in colour' });
  const note = el('p', { class: 'fig-note' });
  const epochs = manifest.architecture.epochs;
  note.textContent = `Error after each of the ${epochs} epochs (one pass over all ${manifest.counts.train.toLocaleString('en')} training images, mini-batches of 200, Adam), on the training images (dashed) and the ${manifest.counts.test.toLocaleString('en')} test images (solid), logarithmic scale. Grey: the other weight decays. Every point is the error of the weights as they were after that epoch, recorded while training.`;
  fig.append(dl, plot, note);
  const x = Array.from({ length: epochs }, (_, i) => i + 1);
  const pct = (row) => Array.from(row, (v) => 100 * Math.max(v, 1e-4)); // a zero error cannot sit on a log axis

  function render() {
    const k = currentNet(K);
    const traces = [];
    for (let j = 0; j < K; j++) {
      if (j === k) continue;
      traces.push({ type: 'scatter', mode: 'lines', x, y: pct(rowOf(a.history_test_error, j)), line: { color: '#c8c8c8', width: 1 }, hoverinfo: 'skip', showlegend: false });
    }
    traces.push(
      { type: 'scatter', mode: 'lines+markers', name: 'training', x, y: pct(rowOf(a.history_train_error, k)), line: { color: COLOURS.I, dash: 'dash', width: 2 }, marker: { size: 5 } },
      { type: 'scatter', mode: 'lines+markers', name: 'test', x, y: pct(rowOf(a.history_test_error, k)), line: { color: COLOURS.J, width: 2.5 }, marker: { size: 5 } },
    );
    Plotly.react(plot, traces, {
      margin: { l: 56, r: 8, t: 28, b: 40 }, font: plotFont(), showlegend: true, legend: { orientation: 'h', y: 1.12, x: 0 },
      title: { text: `α = ${fmtWeightDecay(manifest.grid.weight_decay[k])}`, font: { size: 13 }, x: 0.99, xanchor: 'right', y: 0.98 },
      xaxis: { title: { text: 'epoch', standoff: 4 }, dtick: 1, gridcolor: COLOURS.grid, zeroline: false },
      yaxis: { title: { text: 'error (%)', standoff: 4 }, type: 'log', gridcolor: COLOURS.grid },
    }, PLOT_CONFIG);
    const train = rowOf(a.history_train_error, k)[epochs - 1];
    const test = rowOf(a.history_test_error, k)[epochs - 1];
    rTrain.set(train, fmt.pct(train));
    rTest.set(test, fmt.pct(test));
    rGap.set(test - train, `${(100 * (test - train)).toFixed(2)} points`);
  }
  onNetChange(render);
  render();
}
