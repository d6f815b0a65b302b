// The cross-entropy view of weight decay: the histogram of p_y(x), the probability the
// network gives each training image's own label, with the loss −log z drawn over it, and
// how much of the mean loss each bin carries. Weak decay: nearly every image is at
// p_y ≈ 1 and costs nothing, and the loss is carried by the few that are not; strong
// decay: the whole training set still pays, as the hinge loss pays inside the margin.
import { el, readout, fmt, PLOT_CONFIG, plotFont, COLOURS, fmtWeightDecay } from './ui.js';
import { openFigure, weightDecaySlider, currentNet, onNetChange, rowOf } from './fig-network-common.js';

export async function mount(root, store, plotly) {
  const opened = await openFigure(root, 'story-network-ce', ['ce_hist_counts', 'ce_hist_loss'], plotly);
  if (!opened) return;
  const { fig, manifest, a, Plotly } = opened;
  const state = { ceweight: store.get().networkCeWeight ?? 'images' };
  const models = manifest.models;
  const K = models.length;
  const bins = manifest.counts.ce_bins;
  const n = manifest.counts.train;
  weightDecaySlider(fig, manifest);
  const weight = el('select', { 'aria-label': 'Bar heights', 'data-control': 'ce-weight' });
  weight.append(el('option', { value: 'images', text: 'Bars: share of training images' }), el('option', { value: 'loss', text: 'Bars: share of the cross-entropy they carry' }));
  weight.addEventListener('change', () => { state.ceweight = weight.value; render(); store.set({ networkCeWeight: state.ceweight === 'images' ? undefined : state.ceweight }); });
  const dl = el('dl', { class: 'readouts' });
  const rMean = readout(dl, 'net-ce-mean', 'Mean cross-entropy (training)');
  const rLow = readout(dl, 'net-ce-low', 'Images with p<sub>y</sub> &lt; 0.9');
  const rShare = readout(dl, 'net-ce-share', 'Their share of the loss');
  const rMedian = readout(dl, 'net-ce-median-test', 'Median test score p<sub>y</sub>');
  const rT = readout(dl, 'net-ce-temperature', 'Temperature for a median of 0.95');
  const plot = el('div', { class: 'plot net-ce-plot', role: 'img', 'aria-label': 'Histogram of the probability each training image gets for its own label, with the cross-entropy minus log z drawn over it' });
  const note = el('p', { class: 'fig-note' });
  note.innerHTML = `All ${n.toLocaleString('en')} training images, by p<sub>y</sub>(x), the probability the network (its own softmax) gives the image's true label, in ${bins} bins of width ${1 / bins}; bar heights on a logarithmic scale. The curve is the cross-entropy −log z an image at p<sub>y</sub> = z pays (right axis). “Share of the cross-entropy”: the bin's images' total −log p<sub>y</sub> over the training set's total.`;
  fig.append(el('div', { class: 'toolbar' }, weight), dl, plot, note);
  const centres = Array.from({ length: bins }, (_, i) => (i + 0.5) / bins);
  const z = Array.from({ length: 200 }, (_, i) => (i + 1) / 200);

  function render() {
    const k = currentNet(K);
    weight.value = state.ceweight;
    const counts = rowOf(a.ce_hist_counts, k);
    const loss = rowOf(a.ce_hist_loss, k);
    const total = loss.reduce((s, v) => s + v, 0);
    const heights = state.ceweight === 'images' ? Array.from(counts, (c) => c / n) : Array.from(loss, (v) => v / total);
    Plotly.react(plot, [
      { type: 'bar', x: centres, y: heights, width: 1 / bins, marker: { color: state.ceweight === 'images' ? COLOURS.I : COLOURS.J, line: { width: 0 } }, name: state.ceweight === 'images' ? 'images' : 'loss share', hovertemplate: 'p_y %{x:.2f}: %{y:.2%}<extra></extra>' },
      { type: 'scatter', mode: 'lines', x: z, y: z.map((v) => -Math.log(v)), yaxis: 'y2', line: { color: COLOURS.ink, width: 2 }, name: '−log z', hoverinfo: 'skip' },
    ], {
      margin: { l: 60, r: 52, t: 24, b: 44 }, font: plotFont(), showlegend: false, bargap: 0,
      title: { text: `α = ${fmtWeightDecay(manifest.grid.weight_decay[k])}`, font: { size: 13 }, x: 0.02, xanchor: 'left', y: 0.98 },
      xaxis: { title: { text: 'p_y(x): probability of the true label', standoff: 4 }, range: [0, 1], gridcolor: COLOURS.grid },
      yaxis: { title: { text: state.ceweight === 'images' ? 'share of images' : 'share of the loss' }, type: 'log', range: [-5, 0.05], gridcolor: COLOURS.grid, exponentformat: 'power' },
      yaxis2: { title: { text: '−log z' }, overlaying: 'y', side: 'right', range: [0, 5], dtick: 1, tickmode: 'linear', tick0: 0, showgrid: false },
    }, PLOT_CONFIG);
    let low = 0; let lowLoss = 0;
    const cut = Math.round(0.9 * bins);
    for (let i = 0; i < cut; i++) { low += counts[i]; lowLoss += loss[i]; }
    rMean.set(total, total.toPrecision(3));
    rLow.set(low, `${low.toLocaleString('en')} (${fmt.pct(low / n)})`);
    rShare.set(lowLoss / total, fmt.pct(lowLoss / total));
    rMedian.set(models[k].median_test_score, models[k].median_test_score.toFixed(4));
    rT.set(models[k].temperature, `T = ${models[k].temperature.toPrecision(3)}`);
  }
  onNetChange(render);
  render();
}
