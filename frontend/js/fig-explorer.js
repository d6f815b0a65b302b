// The regularization explorer: the tilting plane, w and the centroids as images, two
// chosen images with x_p, x_m and the valid-image adversarial, readouts, the histogram
// of y·d(x) with the hinge loss, curves against λ and a digit-pair selector. One λ
// slider moves them all; everything a step needs is loaded or precomputed beforehand.
import { follow, el, readout, fmt, showError, setHtml, PLOT_CONFIG, COLOURS, plotFont } from './ui.js';
import { lambdaSlider } from './slider.js';
import { planePlot } from './plane.js';
import { imageCanvas, drawGray, drawMidGray, drawDiverging, MIDGREY_NOTE } from './images.js';
import { analyseImage, alongNormal, boxAdversarial, planePoint, score } from './maths.js';
import { listExperiments, loadExperiment } from './data.js';
import { drawPad } from './drawpad.js';
import { histogramCanvas, lossPoints, losses } from './hist.js';
import { encodeDrawing, decodeDrawing, quantise } from './state.js';

export const NAMES = ['train_u', 'train_v', 'train_y', 'centroids', 'weights', 'intercepts', 'normals', 'z_hat',
  'hist_edges', 'hist_train', 'hist_test', 'gallery_images', 'gallery_y'];
export const HALF = ['train_v'];
const TEST_NAMES = ['test_u', 'test_v', 'test_y'];

const SLOTS = [
  { key: 'x', cls: 0, sign: -1, colour: '#0b3d73', marks: ['x', 'xₚ', 'xₘ', 'x̃'] },
  { key: 'y', cls: 1, sign: 1, colour: '#8a3300', marks: ['y', 'yₚ', 'yₘ', 'ỹ'] },
];
const VIEWS = [
  ['image', 'the image'],
  ['projected', 'projected onto the boundary, x − d(x)ŵ'],
  ['mirror', 'mirrored through the boundary, x − 2d(x)ŵ'],
  ['adversarial', 'smallest valid-image change that crosses'],
];

export function mount(root, store, plotly = null) {
  root.classList.add('fig', 'fig-explorer');
  // --- skeleton -------------------------------------------------------------------
  const toolbar = el('div', { class: 'toolbar' });
  const pairLabel = el('label', { class: 'pair-select' }, 'Digit pair ');
  const pairSelect = el('select', { 'aria-label': 'Digit pair' });
  pairLabel.append(pairSelect);
  const testLabel = el('label', { class: 'toggle' });
  const testBox = el('input', { type: 'checkbox' });
  testLabel.append(testBox, ' show test images');
  toolbar.append(pairLabel, testLabel);
  const sliderBox = el('div', { class: 'controls' });
  const plotDiv = el('div', { class: 'plot plane-plot', role: 'img', 'aria-label': 'All training images in the tilting plane, with the boundary, ŵ, the 2·d_adv band and the chosen images.' });
  const side = el('div', { class: 'explorer-side' });
  const dl = el('dl', { class: 'readouts' });
  const weightCanvas = imageCanvas(28, 'the weight vector w as an image');
  const centroidCanvases = [imageCanvas(28, 'mean image of class I'), imageCanvas(28, 'mean image of class J')];
  const wFig = el('figure', { class: 'digit-panel' }, weightCanvas, el('figcaption', { html: 'w (display-normalised to max |w<sub>k</sub>|): blue pixels vote <span data-digit="0"></span>, orange <span data-digit="1"></span>' }));
  const cFigs = centroidCanvases.map((c, i) => el('figure', { class: 'digit-panel' }, c, el('figcaption', { html: `mean of the <span data-digit="${i}"></span>s` })));
  side.append(dl, el('div', { class: 'image-row' }, wFig, ...cFigs));
  const main = el('div', { class: 'explorer-main' }, el('div', { class: 'explorer-plane' }, plotDiv), side); // the plane's legend goes under plotDiv
  const slotsBox = el('div', { class: 'slots' });
  const slotsHelp = el('p', { class: 'fig-note', text: 'Under each image: the digit the SVM predicts, its score w·x + b, and how far (L2, pixel units) the image was moved from x.' });
  const padBox = el('div', { class: 'draw-box' });
  const plotsRow = el('div', { class: 'explorer-plots' });
  const histDiv = el('div', { class: 'plot hist-plot', role: 'img', 'aria-label': 'Histogram of y·d(x) with the hinge loss' });
  const curveDiv = el('div', { class: 'plot curve-plot', role: 'img', 'aria-label': 'Tilt, adversarial distance and errors against log10 lambda; click to jump to a lambda' });
  plotsRow.append(histDiv, curveDiv);
  const note = el('p', { class: 'fig-note' });
  root.append(toolbar, sliderBox, main, slotsHelp, slotsBox, padBox, plotsRow, note);

  let exp = null; let plane = null; let curves = null; let testExp = null; let clickBound = false;
  const slider = lambdaSlider(sliderBox, {
    onInput: (k) => store.set({ lambda: exp.grid[k] }),
    describe: (k) => `tilt ${exp.model(k).theta_deg.toFixed(1)} degrees, test error ${fmt.pct(exp.model(k).test_error)}`,
  });
  const r = {
    theta: readout(dl, 'theta', 'tilt θ'),
    d_adv: readout(dl, 'd_adv', 'd<sub>adv</sub>'),
    train_error: readout(dl, 'train_error', 'train error'),
    test_error: readout(dl, 'test_error', 'test error'),
    w_norm: readout(dl, 'w_norm', '‖w‖'),
  };

  pairSelect.addEventListener('change', () => store.set({ pair: pairSelect.value }));
  testBox.addEventListener('change', async () => {
    if (testBox.checked && exp && (!testExp || testExp.id !== exp.id)) {
      testExp = await loadExperiment(exp.id, TEST_NAMES, ['test_v']);
    }
    store.set({ test: testBox.checked });
  });
  listExperiments().then((list) => {
    pairSelect.replaceChildren(...list.map((e) => el('option', { value: `${e.digits[0]}-${e.digits[1]}`, text: `${e.digits[0]} vs ${e.digits[1]}${e.dataset === 'mnist' ? '' : ` (${e.dataset})`}` })));
    if (exp) pairSelect.value = `${exp.manifest.digits[0]}-${exp.manifest.digits[1]}`;
  }).catch((err) => showError(root, err));

  // --- image slots --------------------------------------------------------------
  const slots = SLOTS.map((spec) => {
    const node = el('section', { class: 'slot', 'aria-label': `Image ${spec.key}` });
    const heading = el('h3', { class: 'figure-heading' });
    const gallery = el('div', { class: 'gallery', role: 'group' });
    const views = el('div', { class: 'image-row views' });
    node.append(heading, gallery, views);
    slotsBox.append(node);
    return { spec, node, heading, gallery, views, canvases: [], captions: [], analysis: null, code: null };
  });

  // The bundle's default image for a slot (manifest.defaults, chosen by its stated rule),
  // else the first gallery image of the slot's class.
  function defaultGallery(spec) {
    const gy = exp.arrays.gallery_y.data;
    const chosen = exp.manifest.defaults?.[spec.key]?.gallery;
    return Number.isInteger(chosen) && gy[chosen] === spec.sign ? chosen : gy.findIndex((v) => v === spec.sign);
  }

  function slotImage(slot, state) {
    const code = state[slot.spec.key];
    const G = exp.arrays.gallery_y.data.length;
    if (typeof code === 'string' && code.startsWith('d')) {
      const img = decodeDrawing(code, exp.dim);
      if (img) return { code, img, label: 'your drawing' };
    }
    const g = Number.parseInt(code, 10);
    const ok = Number.isInteger(g) && g >= 0 && g < G;
    const index = ok ? g : defaultGallery(slot.spec);
    return { code: String(index), img: exp.arrays.gallery_images.data.subarray(index * exp.dim, (index + 1) * exp.dim), label: `test image ${index}`, index };
  }

  function buildSlots() {
    const [di, dj] = exp.manifest.digits;
    const gy = exp.arrays.gallery_y.data;
    for (const slot of slots) {
      const digit = slot.spec.cls ? dj : di;
      slot.heading.innerHTML = `<span class="slot-mark" style="color:${slot.spec.colour}">${slot.spec.key}</span>: a ${digit} from the test set, or a drawing`;
      slot.gallery.setAttribute('aria-label', `Choose image ${slot.spec.key} among the test ${digit}s`);
      slot.gallery.replaceChildren();
      gy.forEach((label, g) => {
        if (label !== slot.spec.sign) return;
        // The canvas names the button (a named image inside it): one name, read once.
        const canvas = imageCanvas(exp.side, `test ${digit} number ${g}`);
        drawGray(canvas, exp.arrays.gallery_images.data.subarray(g * exp.dim, (g + 1) * exp.dim), exp.side);
        const button = el('button', { type: 'button', class: 'thumb', 'data-gallery': String(g) }, canvas);
        button.addEventListener('click', () => store.set({ [slot.spec.key]: String(g) }));
        slot.gallery.append(button);
      });
      slot.views.replaceChildren();
      slot.canvases = []; slot.captions = [];
      VIEWS.forEach(([name, text]) => {
        const canvas = imageCanvas(exp.side, `${slot.spec.key}: ${text}`);
        const caption = el('figcaption', {});
        slot.canvases.push(canvas); slot.captions.push(caption);
        slot.views.append(el('figure', { class: 'digit-panel', 'data-view': name }, canvas, caption));
      });
      slot.code = null;
    }
  }

  // --- drawing ------------------------------------------------------------------
  let pad = null; let drawn = null;
  const padVerdict = el('p', { class: 'pad-verdict', 'aria-live': 'polite' });
  const useX = el('button', { type: 'button', text: 'Use as x', disabled: '' });
  const useY = el('button', { type: 'button', text: 'Use as y', disabled: '' });
  function buildPad() {
    padBox.replaceChildren(el('h3', { class: 'figure-heading', text: 'Draw a digit' }));
    const area = el('div', { class: 'pad-area' });
    padBox.append(area);
    pad = drawPad(area, exp.side, {
      onDraw(pixels) {
        drawn = pixels ? quantise(pixels) : null;
        useX.disabled = useY.disabled = !drawn;
        verdictForDrawing(kNow);
      },
    });
    area.append(useX, useY, padVerdict);
    drawn = null; useX.disabled = useY.disabled = true; setHtml(padVerdict, 'Draw a digit in the box; the SVM at the current λ classifies it.');
  }
  useX.addEventListener('click', () => drawn && store.set({ x: encodeDrawing(drawn) }));
  useY.addEventListener('click', () => drawn && store.set({ y: encodeDrawing(drawn) }));
  function verdictForDrawing(k) {
    if (!drawn || !exp) return;
    const s = score(drawn, exp.row('weights', k), exp.arrays.intercepts.data[k]);
    const [di, dj] = exp.manifest.digits;
    setHtml(padVerdict, `At this λ the SVM reads your drawing as a <b data-pred="drawing">${s > 0 ? dj : di}</b> (score ${fmt.signed(s)}).`);
  }

  // --- histogram and curves -----------------------------------------------------
  const drawHistogram = histogramCanvas(histDiv);
  let fTrain = null; let fTest = null;
  function histogram(k) {
    const m = exp.model(k);
    const edges = exp.row('hist_edges', k);
    const train = exp.row('hist_train', k); const test = exp.row('hist_test', k);
    if (fTrain?.length !== train.length) { fTrain = new Float32Array(train.length); fTest = new Float32Array(train.length); }
    const nTrain = exp.manifest.counts.train; const nTest = exp.manifest.counts.test;
    for (let b = 0; b < train.length; b++) { fTrain[b] = train[b] / nTrain; fTest[b] = test[b] / nTest; }
    // The hinge loss max(0, 1 − ‖w‖t) is straight on either side of its kink at 1/‖w‖.
    const lo = edges[0]; const hi = edges[edges.length - 1];
    const hinge = lossPoints((t) => losses.hinge(m.w_norm, t), lo, hi, { count: 1, kinks: [1 / m.w_norm] });
    drawHistogram({
      edges,
      bars: [{ name: 'train', values: fTrain, colour: 'rgba(90,90,90,0.5)', fill: true }, { name: 'test', values: fTest, colour: '#444' }],
      curves: [{ name: 'hinge loss', ...hinge, colour: '#7b2cbf', width: 2 }],
      marks: [{ t: 0, colour: '#000' }, { t: m.d_adv, colour: '#000', dash: [2, 3], text: 'd_adv' }],
      titles: { x: 'y·d(x): signed distance, positive = correct', y: 'fraction', loss: 'hinge' },
    });
  }

  function buildCurves() {
    const g = exp.grid; const ms = exp.manifest.models;
    const narrow = curveDiv.clientWidth < 560;
    const line = (y, name, axis, colour, dash) => ({ type: 'scatter', mode: 'lines', name, x: g, y, xaxis: `x${axis}`, yaxis: `y${axis}`, line: { color: colour, width: 2, dash }, hovertemplate: `%{y:.3g}<extra>${name}</extra>` });
    const traces = [
      line(ms.map((m) => m.theta_deg), 'θ (degrees)', '', COLOURS.ink),
      line(ms.map((m) => m.d_adv), 'd_adv', '2', '#7b2cbf'),
      line(ms.map((m) => 100 * m.train_error), 'train error %', '3', COLOURS.I),
      line(ms.map((m) => 100 * m.test_error), 'test error %', '3', COLOURS.J, 'dash'),
    ];
    const axes = {};
    ['', '2', '3'].forEach((a, i) => {
      axes[`xaxis${a}`] = { fixedrange: true, title: { text: 'log₁₀ λ', standoff: 2 }, zeroline: false };
      axes[`yaxis${a}`] = { fixedrange: true, title: { text: ['θ (°)', 'd_adv', 'error (%)'][i], standoff: 2 }, rangemode: 'tozero' };
    });
    curves = { traces, axes, narrow };
  }

  // The curves are drawn by Plotly once per experiment; the current-λ marker is a CSS
  // overlay placed from Plotly's own axis mapping, so a λ step costs no Plotly redraw.
  const marker = el('div', { class: 'curve-marker', 'aria-hidden': 'true' });
  const markerLines = [0, 1, 2].map(() => el('span', {}));
  marker.append(...markerLines);
  let curvesDrawn = null;
  function curvePlot(k) {
    if (curvesDrawn !== exp.id) {
      curvesDrawn = exp.id;
      curveDiv.style.position = 'relative';
      drawCurves();
      curveDiv.append(marker);
    }
    placeMarker(k);
  }
  // The lines sit at each panel's left edge; a step only moves them sideways (a transform:
  // no layout).
  function placeMarker(k) {
    const full = curveDiv._fullLayout;
    if (!full) return;
    markerLines.forEach((line, i) => {
      const xa = full[['xaxis', 'xaxis2', 'xaxis3'][i]]; const ya = full[['yaxis', 'yaxis2', 'yaxis3'][i]];
      line.style.left = `${xa._offset}px`;
      line.style.top = `${ya._offset}px`;
      line.style.height = `${ya._length}px`;
      line.style.transform = `translateX(${xa.l2p(exp.grid[k])}px)`;
    });
  }
  function drawCurves() {
    const { traces, axes, narrow } = curves;
    const layout = {
      font: plotFont(), height: narrow ? 560 : 280, margin: { l: 44, r: 10, t: 24, b: 40 },
      grid: narrow ? { rows: 3, columns: 1, pattern: 'independent', ygap: 0.35 } : { rows: 1, columns: 3, pattern: 'independent', xgap: 0.3 },
      ...axes,
      showlegend: true, legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom', font: { size: 11 } },
      hovermode: 'x', paper_bgcolor: 'rgba(0,0,0,0)', plot_bgcolor: '#fff',
    };
    const done = window.Plotly.react(curveDiv, traces, layout, PLOT_CONFIG);
    if (!clickBound) {
      clickBound = true;
      curveDiv.on('plotly_click', (ev) => {
        const p = ev.points?.[0];
        if (p) store.set({ lambda: p.x });
      });
      curveDiv.on('plotly_afterplot', () => placeMarker(kNow));
    }
    return done;
  }

  // --- per-step work -------------------------------------------------------------
  let kNow = 0;
  // A slot at model k: x, x_p, x_m and the valid-image adversarial, their scores and
  // their places in the plane (the images are drawn by drawSlot, after the plane).
  function slotAt(slot, k, state) {
    const chosen = slotImage(slot, state);
    if (chosen.code !== slot.code) {
      slot.code = chosen.code;
      slot.analysis = analyseImage(chosen.img, exp);
      slot.label = chosen.label;
      for (const b of slot.gallery.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.gallery === chosen.code));
    }
    const a = slot.analysis;
    const m = exp.model(k);
    const w = exp.row('weights', k); const b = exp.arrays.intercepts.data[k];
    const d = a.distances[k];
    const xp = alongNormal(a.x, w, m.w_norm, d, 1);
    const xm = alongNormal(a.x, w, m.w_norm, d, 2);
    const adv = boxAdversarial(a.x, w, b);
    const cos = Math.cos(m.theta); const sin = Math.sin(m.theta);
    const pa = planePoint(adv.image, exp, k);
    return {
      slot, d, adv,
      images: [a.x, xp, xm, adv.image],
      scores: [a.scores[k], score(xp, w, b), score(xm, w, b), score(adv.image, w, b)],
      marks: {
        x: [a.u, a.u - d * cos, a.u - 2 * d * cos, pa[0]],
        y: [a.v[k], a.v[k] - d * sin, a.v[k] - 2 * d * sin, pa[1]],
        marks: slot.spec.marks, colour: slot.spec.colour, sizes: [12, 10, 9, 10], symbols: ['circle', 'diamond', 'square', 'x'],
      },
    };
  }

  function drawSlot({ slot, d, adv, images, scores }) {
    const [di, dj] = exp.manifest.digits;
    images.forEach((img, i) => {
      drawMidGray(slot.canvases[i], img, exp.side); // one fixed mapping: x_p and x_m leave [0, 1]
      const dist = i === 3 ? (Number.isFinite(adv.distance) ? `‖δ‖ = ${adv.distance.toFixed(2)}` : 'none exists') : i === 0 ? `d(x) = ${fmt.num(d)}` : `‖δ‖ = ${(i * Math.abs(d)).toFixed(2)}`;
      setHtml(slot.captions[i], `<span class="mark">${slot.spec.marks[i]}</span> <b data-pred="${slot.spec.key}${i}">${scores[i] > 0 ? dj : di}</b> <span class="score" data-score="${slot.spec.key}${i}">${fmt.signed(scores[i])}</span><br><span class="dist">${dist}</span>`);
    });
  }

  function step(k, state, changed) {
    kNow = k;
    const all = changed.includes('all');
    const m = exp.model(k);
    const chosen = slots.map((slot) => slotAt(slot, k, state));
    if (all || changed.includes('test')) {
      testBox.checked = Boolean(state.test && testExp && testExp.id === exp.id);
      plane.setTest(testBox.checked, testBox.checked ? testExp : null);
    }
    // The plane first: its WebGL draw then runs on the GPU while the rest is done here.
    plane.render(k, chosen.map((c) => c.marks));
    slider.set(k);
    r.theta.set(m.theta_deg, fmt.deg(m.theta_deg));
    r.d_adv.set(m.d_adv, fmt.num(m.d_adv));
    r.train_error.set(m.train_error, fmt.pct(m.train_error));
    r.test_error.set(m.test_error, fmt.pct(m.test_error));
    r.w_norm.set(m.w_norm, fmt.num(m.w_norm));
    drawDiverging(weightCanvas, exp.row('weights', k), exp.side);
    chosen.forEach(drawSlot);
    verdictForDrawing(k);
    histogram(k);
    curvePlot(k);
  }

  return follow(store, {
    plotly,
    root,
    names: NAMES,
    half: HALF,
    async load(e, state) {
      exp = e;
      slider.setGrid(e.grid);
      const [di, dj] = e.manifest.digits;
      pairSelect.value = `${di}-${dj}`;
      root.querySelectorAll('[data-digit]').forEach((n) => { n.textContent = String(n.dataset.digit === '0' ? di : dj); });
      plane = planePlot(plotDiv, e, { digits: [di, dj] });
      for (const [c, canvas] of centroidCanvases.entries()) drawGray(canvas, e.arrays.centroids.data.subarray(c * e.dim, (c + 1) * e.dim), e.side);
      if (state.test) testExp = await loadExperiment(e.id, TEST_NAMES, ['test_v']);
      buildSlots();
      buildPad();
      buildCurves();
      note.innerHTML = `${e.manifest.counts.train.toLocaleString('en')} training images (${e.manifest.counts.test.toLocaleString('en')} test). Point positions are sent as float16 (about three significant digits); x̃ and ỹ are plotted by their projection on the plane. x<sub>p</sub> and x<sub>m</sub> can leave [0, 1], so the four images under x and y are ${MIDGREY_NOTE}, the same for every λ. The hinge loss of a point at signed distance t is max(0, 1 − ‖w‖t), so in these units the margin ends at t = 1/‖w‖. ${e.manifest.dataset.notice ?? ''}`;
    },
    step,
    onError: (err) => showError(root, err),
  });
}
