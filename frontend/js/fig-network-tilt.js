// The local tilt of the network, against weight decay. At a test image x, for its own
// class s and another class t, the local boundary between them has normal
// n = ∇ₓ(z_t − z_s); its angle to the direction between the class means, μ_t − μ_s, is the
// network's counterpart of the SVM's tilting angle θ. Beside it: the median adversarial
// distance (both attack protocols, and the linearised distance to the nearest local
// boundary) and the test error, all from the bundle.
import { el, readout, fmt, PLOT_CONFIG, plotFont, COLOURS, fmtWeightDecay } from './ui.js';
import { openFigure, weightDecaySlider, currentNet, onNetChange, setNet, rowOf } from './fig-network-common.js';

const BIN = 2; // degrees per histogram bin

export async function mount(root, store, plotly) {
  const opened = await openFigure(root, 'story-network-tilt', ['tilt_sample_angle'], plotly);
  if (!opened) return;
  const { fig, manifest, a, Plotly } = opened;
  const models = manifest.models;
  const K = models.length;
  const weightDecays = manifest.grid.weight_decay;
  weightDecaySlider(fig, manifest);
  const dl = el('dl', { class: 'readouts' });
  const rAngle = readout(dl, 'net-tilt-median', 'Local tilt, median (test sample)');
  const rIqr = readout(dl, 'net-tilt-iqr', 'Middle half of the angles');
  const rL2 = readout(dl, 'net-adv-median', 'Median ‖δ‖₂, own softmax');
  const rCal = readout(dl, 'net-cal-median', 'Median ‖δ‖₂, calibrated');
  const rErr = readout(dl, 'net-test-error-tilt', 'Test error');
  const sweep = el('div', { class: 'plot net-tilt-plot', role: 'img', 'aria-label': 'Against weight decay: the local tilting angle (median and middle half), the median adversarial distance, and the test error; the chosen weight decay marked' });
  const hist = el('div', { class: 'plot net-tilt-hist', role: 'img', 'aria-label': 'Histogram of the local tilting angles at the chosen weight decay, with the weakest and strongest weight decays outlined' });
  const note = el('p', { class: 'fig-note' });
  const n = manifest.counts.tilt_sample;
  note.innerHTML = `The local tilt is measured at the first ${n.toLocaleString('en')} test images, each towards each of the 9 other digits (${(9 * n).toLocaleString('en')} angles per network): the angle between the network's local boundary normal ∇ₓ(z<sub>t</sub> − z<sub>s</sub>) (z: the scores before the softmax) and μ<sub>t</sub> − μ<sub>s</sub>, the difference of the two digits' mean training images. 0° is the nearest-mean boundary; 90° ignores the means. Diamonds: the median at the ${models[0].attack.attacks} attacked images of the grid above, and at their adversarial images. Distances: medians over the attacks that reached p ≥ ${manifest.attack.threshold} (a weight decay where most attacks fail is drawn hollow), and the linearised distance (z<sub>s</sub> − z<sub>t</sub>)/‖∇ₓ(z<sub>t</sub> − z<sub>s</sub>)‖ to the nearest of the nine local boundaries. Click a point to choose its weight decay.`;
  fig.append(dl, el('div', { class: 'net-tilt-layout' }, sweep, hist), note);

  const pick = (f) => models.map(f);
  const mostReached = (s) => s.success_rate >= 0.5;
  const distanceTrace = (name, summaryOf, colour) => ({
    type: 'scatter', mode: 'lines+markers', name, x: weightDecays, y: pick((m) => summaryOf(m).median_l2_reached), xaxis: 'x', yaxis: 'y2',
    line: { color: colour }, marker: { size: 8, color: pick((m) => (mostReached(summaryOf(m)) ? colour : '#fff')), line: { color: colour, width: 2 } },
  });
  const traces = [
    { type: 'scatter', mode: 'lines', x: weightDecays, y: pick((m) => m.tilt.q75_angle_sample), line: { width: 0 }, hoverinfo: 'skip', showlegend: false },
    { type: 'scatter', mode: 'lines', name: 'middle half', x: weightDecays, y: pick((m) => m.tilt.q25_angle_sample), fill: 'tonexty', fillcolor: 'rgba(36,64,142,0.18)', line: { width: 0 } },
    { type: 'scatter', mode: 'lines+markers', name: 'median angle', x: weightDecays, y: pick((m) => m.tilt.median_angle_sample), line: { color: '#24408e', width: 2.5 } },
    { type: 'scatter', mode: 'markers', name: 'grid: originals', x: weightDecays, y: pick((m) => m.tilt.median_angle_grid), marker: { symbol: 'diamond', color: '#24408e', size: 7 } },
    { type: 'scatter', mode: 'markers', name: 'grid: adversarials', x: weightDecays, y: pick((m) => m.tilt.median_angle_adversarial), marker: { symbol: 'diamond-open', color: '#24408e', size: 8 } },
    distanceTrace('‖δ‖, own softmax', (m) => m.attack, COLOURS.J),
    distanceTrace('‖δ‖, calibrated', (m) => m.attack_calibrated, '#7b3294'),
    { type: 'scatter', mode: 'lines', name: 'linearised distance', x: weightDecays, y: pick((m) => m.tilt.median_distance_sample), xaxis: 'x', yaxis: 'y2', line: { color: '#888', dash: 'dot' } },
    { type: 'scatter', mode: 'lines+markers', name: 'test error', x: weightDecays, y: pick((m) => 100 * m.test_error), xaxis: 'x', yaxis: 'y3', line: { color: COLOURS.ink } },
  ];
  const axis = { gridcolor: COLOURS.grid, zeroline: false };
  Plotly.react(sweep, traces, {
    margin: { l: 56, r: 8, t: 8, b: 40 }, font: plotFont(),
    legend: { orientation: 'h', y: -0.14, x: 0, font: { size: 11 } },
    xaxis: { ...axis, type: 'log', title: { text: 'weight decay α', standoff: 2 }, exponentformat: 'power', anchor: 'y3' },
    yaxis: { ...axis, domain: [0.58, 1], title: { text: 'local tilt (°)' }, rangemode: 'tozero' },
    yaxis2: { ...axis, domain: [0.29, 0.53], title: { text: '‖δ‖₂' }, rangemode: 'tozero' },
    yaxis3: { ...axis, domain: [0, 0.24], title: { text: 'test error (%)' }, rangemode: 'tozero' },
    shapes: [{ type: 'line', xref: 'x', yref: 'paper', x0: weightDecays[0], x1: weightDecays[0], y0: 0, y1: 1, line: { color: '#c00', width: 1.5, dash: 'dot' } }],
  }, PLOT_CONFIG);
  sweep.on?.('plotly_click', (ev) => {
    const p = ev.points?.[0];
    const k = p ? weightDecays.indexOf(p.x) : -1;
    if (k >= 0) setNet(k);
  });

  // Angles run from 0° to 180° (beyond 90° the local normal points against μ_t − μ_s); the
  // axis ends at 90° or, if some angle is larger, at the next multiple of 15° above it.
  const bins = Array.from({ length: 180 / BIN }, (_, i) => (i + 0.5) * BIN);
  let widest = 0;
  for (const v of a.tilt_sample_angle.data) widest = Math.max(widest, v);
  const xMax = Math.max(90, 15 * Math.ceil(widest / 15));
  const histogram = (k) => {
    const counts = new Array(bins.length).fill(0);
    const row = rowOf(a.tilt_sample_angle, k);
    for (const v of row) counts[Math.min(bins.length - 1, Math.floor(v / BIN))] += 1;
    return counts.map((c) => c / row.length);
  };
  const outline = (k, colour) => ({ type: 'scatter', mode: 'lines', line: { shape: 'hvh', color: colour, width: 1.5 }, x: bins, y: histogram(k), name: `α = ${fmtWeightDecay(weightDecays[k])}` });

  function render() {
    const k = currentNet(K);
    const m = models[k];
    Plotly.relayout(sweep, { 'shapes[0].x0': weightDecays[k], 'shapes[0].x1': weightDecays[k] });
    Plotly.react(hist, [
      { type: 'bar', x: bins, y: histogram(k), marker: { color: 'rgba(36,64,142,0.55)' }, width: BIN, name: `α = ${fmtWeightDecay(weightDecays[k])} (chosen)` },
      outline(0, COLOURS.J), outline(K - 1, '#555'),
    ], {
      margin: { l: 56, r: 8, t: 8, b: 40 }, font: plotFont(), bargap: 0,
      legend: { orientation: 'h', y: -0.14, x: 0, font: { size: 11 } },
      xaxis: { title: { text: 'local tilt (°)', standoff: 2 }, range: [0, xMax], dtick: 15, gridcolor: COLOURS.grid },
      yaxis: { title: { text: 'share of angles' }, gridcolor: COLOURS.grid, rangemode: 'tozero' },
    }, PLOT_CONFIG);
    rAngle.set(m.tilt.median_angle_sample, fmt.deg(m.tilt.median_angle_sample));
    rIqr.set(m.tilt.q75_angle_sample - m.tilt.q25_angle_sample, `${fmt.deg(m.tilt.q25_angle_sample)} – ${fmt.deg(m.tilt.q75_angle_sample)}`);
    const l2 = (s) => (s.median_l2_reached === null ? 'n/a' : `${s.median_l2_reached.toFixed(2)} (${s.attacks_reached}/${s.attacks})`);
    rL2.set(m.attack.median_l2_reached ?? '', l2(m.attack));
    rCal.set(m.attack_calibrated.median_l2_reached ?? '', l2(m.attack_calibrated));
    rErr.set(m.test_error, fmt.pct(m.test_error));
  }
  onNetChange(render);
  render();
}
