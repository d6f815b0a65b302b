// The regularization explorer: the tilting plane, w and the centroids as images, two
// chosen images with x_p, x_m and the valid-image adversarial, readouts, the histogram
// of y·d(x) with the hinge loss, curves against λ and an experiment selector. One λ
// slider moves them all; everything a step needs is loaded or precomputed beforehand.
//
// Three parts, as in every figure: build (the markup, once: buildSkeleton, buildSlots,
// the pad), derive (pure numbers: derive.js) and render (drawing what derive returns:
// renderSlot, the histogram, the curves' marker), tied together by mount's `step`.
import { follow, el, readout, fmt, showError, setHtml, PLOT_CONFIG, COLOURS, plotFont } from './ui.js';
import { lambdaSlider } from './slider.js';
import { planePlot } from './plane.js';
import { imageCanvas, drawGray, drawMidGray, drawDiverging, MIDGREY_NOTE } from './images.js';
import { analyseImage, score } from './maths.js';
import { listExperiments, loadExperiment } from './data.js';
import { drawPad } from './drawpad.js';
import { histogramCanvas } from './hist.js';
import { encodeDrawing, decodeDrawing, quantise } from './state.js';
import { defaultGallery, histogramAtModel, imageAtModel, modelReadouts, pathCurves } from './derive.js';
import { plotArea, react } from './plotly-adapter.js';

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
const PLANE_MARKS = { sizes: [12, 10, 9, 10], symbols: ['circle', 'diamond', 'square', 'x'] };

// An experiment's name in the picker: its digits, and what tells it apart from another
// experiment of the same digits (another dataset, another training-set size).
function experimentLabel(e, list) {
  const twins = list.filter((o) => o.digits[0] === e.digits[0] && o.digits[1] === e.digits[1]).length > 1;
  const dataset = e.dataset === 'mnist' ? '' : ` (${e.dataset})`;
  const size = twins && e.counts?.train ? `, ${e.counts.train.toLocaleString('en')} training images` : '';
  return `${e.digits[0]} vs ${e.digits[1]}${dataset}${size}`;
}

// --- build ------------------------------------------------------------------------------

function buildSkeleton(root) {
  root.classList.add('fig', 'fig-explorer');
  const toolbar = el('div', { class: 'toolbar' });
  const pairSelect = el('select', { 'aria-label': 'Digit pair' });
  const testBox = el('input', { type: 'checkbox' });
  const testLabel = el('label', { class: 'toggle' }, testBox, ' show test images');
  toolbar.append(el('label', { class: 'pair-select' }, 'Digit pair ', pairSelect), testLabel);
  const sliderBox = el('div', { class: 'controls' });
  const plotDiv = el('div', { class: 'plot plane-plot', role: 'img', 'aria-label': 'All training images in the tilting plane, with the boundary, ŵ, the 2·d_adv band and the chosen images.' });
  const dl = el('dl', { class: 'readouts' });
  const weightCanvas = imageCanvas(28, 'the weight vector w as an image');
  const centroidCanvases = [imageCanvas(28, 'mean image of class I'), imageCanvas(28, 'mean image of class J')];
  const wFig = el('figure', { class: 'digit-panel' }, weightCanvas, el('figcaption', { html: 'w (display-normalised to max |w<sub>k</sub>|): blue pixels vote <span data-digit="0"></span>, orange <span data-digit="1"></span>' }));
  const cFigs = centroidCanvases.map((c, i) => el('figure', { class: 'digit-panel' }, c, el('figcaption', { html: `mean of the <span data-digit="${i}"></span>s` })));
  const side = el('div', { class: 'explorer-side' }, dl, el('div', { class: 'image-row' }, wFig, ...cFigs));
  const main = el('div', { class: 'explorer-main' }, el('div', { class: 'explorer-plane' }, plotDiv), side); // the plane's legend goes under plotDiv
  const slotsBox = el('div', { class: 'slots' });
  const slotsHelp = el('p', { class: 'fig-note', text: 'Under each image: the digit the SVM predicts, its score w·x + b, and how far (L2, pixel units) the image was moved from x.' });
  const padBox = el('div', { class: 'draw-box' });
  const histDiv = el('div', { class: 'plot hist-plot', role: 'img', 'aria-label': 'Histogram of y·d(x) with the hinge loss' });
  const curveDiv = el('div', { class: 'plot curve-plot', role: 'img', 'aria-label': 'Tilt, adversarial distance and errors against log10 lambda; click to jump to a lambda' });
  const note = el('p', { class: 'fig-note' });
  root.append(toolbar, sliderBox, main, slotsHelp, slotsBox, padBox, el('div', { class: 'explorer-plots' }, histDiv, curveDiv), note);
  const readouts = {
    theta: readout(dl, 'theta', 'tilt θ'),
    d_adv: readout(dl, 'd_adv', 'd<sub>adv</sub>'),
    train_error: readout(dl, 'train_error', 'train error'),
    test_error: readout(dl, 'test_error', 'test error'),
    w_norm: readout(dl, 'w_norm', '‖w‖'),
  };
  const slots = SLOTS.map((spec) => {
    const node = el('section', { class: 'slot', 'aria-label': `Image ${spec.key}` });
    const heading = el('h3', { class: 'figure-heading' });
    const gallery = el('div', { class: 'gallery', role: 'group' });
    const views = el('div', { class: 'image-row views' });
    node.append(heading, gallery, views);
    slotsBox.append(node);
    return { spec, node, heading, gallery, views, canvases: [], captions: [], analysis: null, code: null };
  });
  return { root, pairSelect, testBox, sliderBox, plotDiv, weightCanvas, centroidCanvases, padBox, histDiv, curveDiv, note, readouts, slots };
}

// The galleries and the four views of each slot, for one experiment.
function buildSlots(ui, exp, store) {
  const [di, dj] = exp.manifest.digits;
  const gy = exp.arrays.gallery_y.data;
  for (const slot of ui.slots) {
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

// The drawing pad: "Use as x/y" put the drawing in the store (and so in the URL); the
// verdict says how the model at the current λ reads it.
function drawingPad(ui, store) {
  let exp = null; let pad = null; let drawn = null; let k = 0;
  const verdict = el('p', { class: 'pad-verdict', 'aria-live': 'polite' });
  const useX = el('button', { type: 'button', text: 'Use as x', disabled: '' });
  const useY = el('button', { type: 'button', text: 'Use as y', disabled: '' });
  useX.addEventListener('click', () => drawn && store.set({ x: encodeDrawing(drawn) }));
  useY.addEventListener('click', () => drawn && store.set({ y: encodeDrawing(drawn) }));
  function render() {
    if (!drawn || !exp) return;
    const s = score(drawn, exp.row('weights', k), exp.arrays.intercepts.data[k]);
    const [di, dj] = exp.manifest.digits;
    setHtml(verdict, `At this λ the SVM reads your drawing as a <b data-pred="drawing">${s > 0 ? dj : di}</b> (score ${fmt.signed(s)}).`);
  }
  return {
    build(e) {
      exp = e;
      ui.padBox.replaceChildren(el('h3', { class: 'figure-heading', text: 'Draw a digit' }));
      const area = el('div', { class: 'pad-area' });
      ui.padBox.append(area);
      pad = drawPad(area, exp.side, {
        onDraw(pixels) {
          drawn = pixels ? quantise(pixels) : null;
          useX.disabled = useY.disabled = !drawn;
          render();
        },
      });
      area.append(useX, useY, verdict);
      drawn = null; useX.disabled = useY.disabled = true;
      setHtml(verdict, 'Draw a digit in the box; the SVM at the current λ classifies it.');
      return pad;
    },
    step(kk) { k = kk; render(); },
  };
}

// The curves against λ: drawn by Plotly once per experiment; the current-λ marker is a CSS
// overlay placed from Plotly's own axis mapping, so a λ step costs no Plotly redraw.
function pathCurvePlot(div, store) {
  const marker = el('div', { class: 'curve-marker', 'aria-hidden': 'true' });
  const markerLines = [0, 1, 2].map(() => el('span', {}));
  marker.append(...markerLines);
  let exp = null; let spec = null; let drawnFor = null; let k = 0; let bound = false;
  // The lines sit at each panel's left edge; a step only moves them sideways (a transform: no layout).
  function placeMarker() {
    markerLines.forEach((line, i) => {
      const area = plotArea(div, ['', '2', '3'][i]);
      if (!area) return;
      line.style.left = `${area.x.offset}px`;
      line.style.top = `${area.y.offset}px`;
      line.style.height = `${area.y.length}px`;
      line.style.transform = `translateX(${area.x.toOffset(exp.log10Lambdas[k])}px)`;
    });
  }
  function draw() {
    const c = spec.curves;
    const line = (y, name, axis, colour, dash) => ({ type: 'scatter', mode: 'lines', name, x: c.log10Lambda, y, xaxis: `x${axis}`, yaxis: `y${axis}`, line: { color: colour, width: 2, dash }, hovertemplate: `%{y:.3g}<extra>${name}</extra>` });
    const traces = [
      line(c.theta, 'θ (degrees)', '', COLOURS.ink),
      line(c.dAdv, 'd_adv', '2', '#7b2cbf'),
      line(c.trainErrorPct, 'train error %', '3', COLOURS.I),
      line(c.testErrorPct, 'test error %', '3', COLOURS.J, 'dash'),
    ];
    const layout = {
      font: plotFont(), height: spec.narrow ? 560 : 280, margin: { l: 44, r: 10, t: 24, b: 40 },
      grid: spec.narrow ? { rows: 3, columns: 1, pattern: 'independent', ygap: 0.35 } : { rows: 1, columns: 3, pattern: 'independent', xgap: 0.3 },
      showlegend: true, legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom', font: { size: 11 } },
      hovermode: 'x', paper_bgcolor: 'rgba(0,0,0,0)', plot_bgcolor: '#fff',
    };
    ['', '2', '3'].forEach((a, i) => {
      layout[`xaxis${a}`] = { fixedrange: true, title: { text: 'log₁₀ λ', standoff: 2 }, zeroline: false };
      layout[`yaxis${a}`] = { fixedrange: true, title: { text: ['θ (°)', 'd_adv', 'error (%)'][i], standoff: 2 }, rangemode: 'tozero' };
    });
    const done = react(div, traces, layout, PLOT_CONFIG);
    if (!bound) {
      bound = true;
      div.on('plotly_click', (ev) => {
        const p = ev.points?.[0];
        if (p) store.set({ log10Lambda: p.x });
      });
      div.on('plotly_afterplot', placeMarker);
    }
    return done;
  }
  return {
    // Once per experiment; the layout (one row or three) is chosen for the width at load.
    build(e) { exp = e; spec = { curves: pathCurves(e.manifest.models), narrow: div.clientWidth < 560 }; },
    step(kk) {
      k = kk;
      if (drawnFor !== exp.id) {
        drawnFor = exp.id;
        div.style.position = 'relative';
        draw();
        div.append(marker);
      }
      placeMarker();
    },
  };
}

// --- render -----------------------------------------------------------------------------

// A slot's chosen image: a drawing in the URL, a gallery index, or the bundle's default.
function slotImage(exp, slot, state) {
  const code = state[slot.spec.key];
  if (typeof code === 'string' && code.startsWith('d')) {
    const img = decodeDrawing(code, exp.dim);
    if (img) return { code, img, label: 'your drawing' };
  }
  const g = Number.parseInt(code, 10);
  const index = Number.isInteger(g) && g >= 0 && g < exp.arrays.gallery_y.data.length ? g : defaultGallery(exp, slot.spec.key, slot.spec.sign);
  return { code: String(index), img: exp.arrays.gallery_images.data.subarray(index * exp.dim, (index + 1) * exp.dim), label: `test image ${index}`, index };
}

// Derive a slot at model k (the image's analysis over every model is done once per image).
function deriveSlot(exp, slot, k, state) {
  const chosen = slotImage(exp, slot, state);
  if (chosen.code !== slot.code) {
    slot.code = chosen.code;
    slot.analysis = analyseImage(chosen.img, exp);
    slot.label = chosen.label;
    for (const b of slot.gallery.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.gallery === chosen.code));
  }
  const at = imageAtModel(slot.analysis, exp, k);
  return {
    slot, at,
    marks: { x: at.plane.u, y: at.plane.v, marks: slot.spec.marks, colour: slot.spec.colour, ...PLANE_MARKS },
  };
}

function renderSlot(exp, { slot, at }) {
  const [di, dj] = exp.manifest.digits;
  at.images.forEach((img, i) => {
    drawMidGray(slot.canvases[i], img, exp.side); // one fixed mapping: x_p and x_m leave [0, 1]
    const dist = i === 3 ? (Number.isFinite(at.adv.distance) ? `‖δ‖ = ${at.adv.distance.toFixed(2)}` : 'none exists')
      : i === 0 ? `d(x) = ${fmt.num(at.d)}` : `‖δ‖ = ${at.moved[i].toFixed(2)}`;
    setHtml(slot.captions[i], `<span class="mark">${slot.spec.marks[i]}</span> <b data-pred="${slot.spec.key}${i}">${at.scores[i] > 0 ? dj : di}</b> <span class="score" data-score="${slot.spec.key}${i}">${fmt.signed(at.scores[i])}</span><br><span class="dist">${dist}</span>`);
  });
}

function renderHistogram(draw, h) {
  draw({
    edges: h.edges,
    bars: [{ name: 'train', values: h.shares.train, colour: 'rgba(90,90,90,0.5)', fill: true }, { name: 'test', values: h.shares.test, colour: '#444' }],
    curves: [{ name: 'hinge loss', ...h.hinge, colour: '#7b2cbf', width: 2 }],
    marks: [{ t: 0, colour: '#000' }, { t: h.dAdv, colour: '#000', dash: [2, 3], text: 'd_adv' }],
    titles: { x: 'y·d(x): signed distance, positive = correct', y: 'fraction', loss: 'hinge' },
  });
}

function renderReadouts(readouts, values) {
  const text = { theta: fmt.deg, d_adv: fmt.num, train_error: fmt.pct, test_error: fmt.pct, w_norm: fmt.num };
  for (const [name, value] of Object.entries(values)) readouts[name].set(value, text[name](value));
}

// --- mount --------------------------------------------------------------------------------

export function mount(root, store, plotly = null) {
  const ui = buildSkeleton(root);
  const pad = drawingPad(ui, store);
  const curves = pathCurvePlot(ui.curveDiv, store);
  const drawHistogram = histogramCanvas(ui.histDiv);
  let exp = null; let plane = null; let testExp = null; let shares = null;
  const slider = lambdaSlider(ui.sliderBox, {
    onInput: (k) => store.set({ log10Lambda: exp.log10Lambdas[k] }),
    describe: (k) => `tilt ${exp.model(k).theta_deg.toFixed(1)} degrees, test error ${fmt.pct(exp.model(k).test_error)}`,
  });

  ui.pairSelect.addEventListener('change', () => store.set({ experiment: ui.pairSelect.value }));
  ui.testBox.addEventListener('change', async () => {
    if (ui.testBox.checked && exp && (!testExp || testExp.id !== exp.id)) {
      testExp = await loadExperiment(exp.id, TEST_NAMES, ['test_v']);
    }
    store.set({ test: ui.testBox.checked });
  });
  listExperiments().then((list) => {
    ui.pairSelect.replaceChildren(...list.map((e) => el('option', { value: e.id, text: experimentLabel(e, list) })));
    if (exp) ui.pairSelect.value = exp.id;
  }).catch((err) => showError(root, err));

  function load(e, state) {
    exp = e;
    slider.setLog10Lambdas(e.log10Lambdas);
    const [di, dj] = e.manifest.digits;
    ui.pairSelect.value = e.id;
    root.querySelectorAll('[data-digit]').forEach((n) => { n.textContent = String(n.dataset.digit === '0' ? di : dj); });
    plane = planePlot(ui.plotDiv, e, { digits: [di, dj] });
    for (const [c, canvas] of ui.centroidCanvases.entries()) drawGray(canvas, e.arrays.centroids.data.subarray(c * e.dim, (c + 1) * e.dim), e.side);
    buildSlots(ui, e, store);
    pad.build(e);
    curves.build(e);
    ui.note.innerHTML = `${e.manifest.counts.train.toLocaleString('en')} training images (${e.manifest.counts.test.toLocaleString('en')} test). Point positions are rounded to about three significant digits, to load fast; x̃ and ỹ are plotted by their projection on the plane. x<sub>p</sub> and x<sub>m</sub> can leave [0, 1], so the four images under x and y are ${MIDGREY_NOTE}, the same for every λ. The hinge loss of a point at signed distance t is max(0, 1 − ‖w‖t), so in these units the margin ends at t = 1/‖w‖. ${e.manifest.dataset.notice ?? ''}`;
    return state.test ? loadExperiment(e.id, TEST_NAMES, ['test_v']).then((t) => { testExp = t; }) : null;
  }

  function step(k, state, changed) {
    const slots = ui.slots.map((slot) => deriveSlot(exp, slot, k, state));
    if (changed.includes('all') || changed.includes('test')) {
      ui.testBox.checked = Boolean(state.test && testExp && testExp.id === exp.id);
      plane.setTest(ui.testBox.checked, ui.testBox.checked ? testExp : null);
    }
    plane.render(k, slots.map((s) => s.marks));
    slider.set(k);
    renderReadouts(ui.readouts, modelReadouts(exp.model(k)));
    drawDiverging(ui.weightCanvas, exp.row('weights', k), exp.side);
    slots.forEach((s) => renderSlot(exp, s));
    pad.step(k);
    const h = histogramAtModel(exp, k, shares);
    shares = h.shares;
    renderHistogram(drawHistogram, h);
    curves.step(k);
  }

  return follow(store, {
    plotly,
    root,
    names: NAMES,
    half: HALF,
    fields: ['log10Lambda', 'x', 'y', 'test'],
    load,
    step,
    onError: (err) => showError(root, err),
  });
}
