// The tilt in 3-D (DESIGN.md figure 7): the training set in the orthonormal basis
// (ẑ, n̂_strong, e₃), e₃ = (n̂_weak − c·n̂_strong)/√(1 − c²), c = n̂_weak·n̂_strong, built in
// the browser from train_u, train_v and normals. Point coordinates: (u, v_strong,
// (v_weak − c·v_strong)/√(1 − c²)). Each boundary is the plane cos θ·u + sin θ·v + offset = 0
// of its own tilting plane. The camera turns around ẑ from one tilting plane to the other.
// One WebGL context: built when the figure nears the viewport, purged when it leaves.
import { resolveExperiment, loadExperiment } from './data.js';
import { el, readout, fmt, showError, PLOT_CONFIG, COLOURS, plotFont } from './ui.js';
import { dot } from './maths.js';
import { ensureStoryCss } from './story.js';

const NAMES = ['train_u', 'train_v', 'train_y', 'normals'];
const MAX_POINTS = 2000;
const DEFAULT_ROT = 0.5; // the oblique view, both boundaries visible
const SWEEP_MS = 4000;

// Default pair of models: the most regularized one whose θ exceeds 1°, and the least regularized.
export function defaultModels(models) {
  let strong = 0;
  models.forEach((m, k) => { if (m.theta_deg > 1 && m.log10_lambda >= models[strong].log10_lambda) strong = k; });
  let weak = 0;
  models.forEach((m, k) => { if (m.log10_lambda < models[weak].log10_lambda) weak = k; });
  return { strong, weak };
}

// Coordinates of every shown point and the two boundary planes in the (ẑ, n̂_s, e₃) basis.
export function tiltGeometry(exp, ks, kw, stride) {
  const { dim } = exp;
  const N = exp.arrays.normals.data;
  const c = Math.max(-1, Math.min(1, dot(N.subarray(ks * dim, (ks + 1) * dim), N, kw * dim)));
  const s = Math.sqrt(1 - c * c);
  const u = exp.arrays.train_u.data; const y = exp.arrays.train_y.data;
  const vs = exp.row('train_v', ks); const vw = exp.row('train_v', kw);
  const pts = { I: { x: [], y: [], z: [] }, J: { x: [], y: [], z: [] } };
  for (let i = 0; i < u.length; i += stride) {
    const p = y[i] > 0 ? pts.J : pts.I;
    p.x.push(u[i]); p.y.push(vs[i]); p.z.push(s > 1e-9 ? (vw[i] - c * vs[i]) / s : 0);
  }
  const ms = exp.model(ks); const mw = exp.model(kw);
  const planes = [
    { model: ms, normal: [Math.cos(ms.theta), Math.sin(ms.theta), 0] },
    { model: mw, normal: [Math.cos(mw.theta), Math.sin(mw.theta) * c, Math.sin(mw.theta) * s] },
  ];
  return { c, s, pts, planes };
}

const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const unit = (a) => { const n = Math.hypot(...a); return a.map((v) => v / n); };

// The part of the plane n·p + offset = 0 inside the cube [−R, R]³: a convex polygon (3 to 6
// corners, in order), where the plane meets the cube's 12 edges.
export function planeInCube(normal, offset, R) {
  const pts = [];
  const corners = [-R, R];
  for (let axis = 0; axis < 3; axis++) {
    const [a1, a2] = [0, 1, 2].filter((i) => i !== axis);
    for (const p1 of corners) for (const p2 of corners) {
      if (Math.abs(normal[axis]) < 1e-12) continue;
      const t = -(offset + normal[a1] * p1 + normal[a2] * p2) / normal[axis];
      if (t < -R - 1e-9 || t > R + 1e-9) continue;
      const p = [0, 0, 0]; p[axis] = t; p[a1] = p1; p[a2] = p2;
      if (!pts.some((q) => Math.hypot(q[0] - p[0], q[1] - p[1], q[2] - p[2]) < 1e-9 * R)) pts.push(p);
    }
  }
  if (pts.length < 3) return [];
  const mid = [0, 1, 2].map((i) => pts.reduce((acc, p) => acc + p[i], 0) / pts.length);
  const t1 = unit(Math.abs(normal[0]) < 0.9 ? cross(normal, [1, 0, 0]) : cross(normal, [0, 1, 0]));
  const t2 = cross(normal, t1);
  const angle = (p) => { const d = p.map((v, i) => v - mid[i]); return Math.atan2(dot3(d, t2), dot3(d, t1)); };
  return pts.sort((p, q) => angle(p) - angle(q));
}
const dot3 = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

// A boundary as a semi-transparent polygon (mesh3d, a triangle fan) and its outline.
function planeTraces(normal, offset, R, colour, name) {
  const poly = planeInCube(normal, offset, R);
  if (!poly.length) return [];
  const fan = poly.slice(2).map((_, t) => t + 1);
  const ring = [...poly, poly[0]];
  return [
    { type: 'mesh3d', name, x: poly.map((p) => p[0]), y: poly.map((p) => p[1]), z: poly.map((p) => p[2]),
      i: fan.map(() => 0), j: fan, k: fan.map((t) => t + 1), color: colour, opacity: 0.28, hoverinfo: 'name',
      showlegend: true, flatshading: true, lighting: { ambient: 1, diffuse: 0, specular: 0, fresnel: 0 } },
    { type: 'scatter3d', mode: 'lines', name: `${name} (edge)`, x: ring.map((p) => p[0]), y: ring.map((p) => p[1]), z: ring.map((p) => p[2]),
      line: { color: colour, width: 5 }, hoverinfo: 'skip', showlegend: false },
  ];
}

// The view direction at a point of the camera's path. rot = 0 looks straight at the strong
// model's tilting plane span(ẑ, n̂_s), rot = 1 at the weak model's (the camera turns by φ
// around ẑ); in between it also rises by β·sin(π·rot) out of that circle, so the middle of
// the path (the default) sees both boundaries obliquely.
export function viewDirection(rot, phiW, beta) {
  const phi = rot * phiW; const b = beta * Math.sin(Math.PI * rot);
  return [-Math.sin(b), -Math.cos(b) * Math.sin(phi), Math.cos(b) * Math.cos(phi)];
}

// The rise β for the default view: both boundaries as far from face-on (|n·e| = 1) and from
// edge-on (n·e = 0) as one β can put them.
export function chooseBeta(normals, phiW) {
  let best = 0; let bestScore = -1;
  for (let deg = 10; deg <= 70; deg += 1) {
    const beta = (deg * Math.PI) / 180;
    const e = viewDirection(0.5, phiW, beta);
    const score = Math.min(...normals.map((n) => { const a = Math.abs(dot3(n, e)); return Math.min(a, 1 - a); }));
    if (score > bestScore) { bestScore = score; best = beta; }
  }
  return best;
}

const EYE_DISTANCE = 1.5;
const SCENE_SCALE = 1.2; // Plotly's cube is small in its box; a larger aspect ratio fills the figure
function camera(rot, phiW, beta) {
  const e = viewDirection(rot, phiW, beta);
  const phi = rot * phiW;
  return {
    eye: { x: EYE_DISTANCE * e[0], y: EYE_DISTANCE * e[1], z: EYE_DISTANCE * e[2] },
    up: { x: 0, y: Math.cos(phi), z: Math.sin(phi) },
    center: { x: 0, y: 0, z: 0 },
    projection: { type: 'orthographic' },
  };
}

// Everything plotly draws for the models ks and kw seen from `rot`: traces, layout, and the
// numbers the readouts and the note show.
function tiltScene(exp, ks, kw, rot, width) {
  const n = exp.arrays.train_u.data.length;
  const stride = Math.max(1, Math.ceil(n / MAX_POINTS));
  const g = tiltGeometry(exp, ks, kw, stride);
  const phiW = Math.atan2(g.s, g.c);
  const beta = chooseBeta(g.planes.map((p) => p.normal), phiW);
  let R = 0;
  for (const p of [g.pts.I, g.pts.J]) for (const a of [p.x, p.y, p.z]) for (const v of a) R = Math.max(R, Math.abs(v));
  R *= 1.02;
  const grid = R > 8 ? 4 : 2;
  const scale = width < 500 ? 1.0 : SCENE_SCALE; // a phone's box is narrow: the whole cube must fit its width
  const traces = [
    { type: 'scatter3d', mode: 'markers', name: `digit ${exp.manifest.digits[0]}`, ...g.pts.I, marker: { size: 2, color: COLOURS.I, opacity: 0.7 }, hoverinfo: 'skip' },
    { type: 'scatter3d', mode: 'markers', name: `digit ${exp.manifest.digits[1]}`, ...g.pts.J, marker: { size: 2, color: COLOURS.J, opacity: 0.7 }, hoverinfo: 'skip' },
    ...planeTraces(g.planes[0].normal, g.planes[0].model.boundary_offset, R, '#1b7837', `strong boundary, λ = 10^${exp.log10Lambdas[ks].toFixed(1)}`),
    ...planeTraces(g.planes[1].normal, g.planes[1].model.boundary_offset, R, '#762a83', `weak boundary, λ = 10^${exp.log10Lambdas[kw].toFixed(1)}`),
  ];
  // No tick labels (seen obliquely they pile up): a grid every `grid` units instead, said in the note.
  const axis = (title) => ({
    title: { text: title, font: { size: 13 } }, range: [-R, R], dtick: grid, showticklabels: false, showspikes: false,
    backgroundcolor: '#fafafa', showbackground: true, gridcolor: '#dcdcdc', zeroline: false,
  });
  const layout = {
    // The legend sits under the scene: above it, it covered the plot on phones.
    margin: { l: 0, r: 0, t: 0, b: 0 }, font: plotFont(),
    legend: { orientation: 'h', x: 0, y: 0, yanchor: 'bottom', bgcolor: 'rgba(255,255,255,0.7)' },
    scene: { domain: { x: [0, 1], y: [0.12, 1] }, xaxis: axis('ẑ'), yaxis: axis('n̂ strong'), zaxis: axis('e₃'), aspectmode: 'manual', aspectratio: { x: scale, y: scale, z: scale }, camera: camera(rot, phiW, beta), dragmode: 'turntable' },
  };
  return { traces, layout, phiW, beta, grid, stride, n, shown: g.pts.I.x.length + g.pts.J.x.length, normals: g.planes.map((p) => p.normal), flat: g.s < 1e-9 };
}

function tiltNote(exp, ks, kw, { shown, n, stride, grid }) {
  const lambdaHtml = (k) => `10<sup>${exp.log10Lambdas[k].toFixed(1).replace('-', '−')}</sup>`;
  return `${exp.manifest.title}. Showing ${shown.toLocaleString('en')} of ${n.toLocaleString('en')} training images (${stride === 1 ? 'all of them' : `one image in ${stride}, for speed`}). Axes: ẑ (the direction between the class means), n̂ of the strong model (λ = ${lambdaHtml(ks)}, green plane) and e₃, the part of the weak model's n̂ (λ = ${lambdaHtml(kw)}, purple plane) orthogonal to it; all three in the same pixel units (grid lines every ${grid}), through the midpoint of the class means. The view opens obliquely, with both boundaries in sight; at 0 it is the strong model's tilting plane seen face-on, at 1 the weak model's. Drag to look around.`;
}

// The figure's markup: the two model pickers, the view slider with Play, readouts, the plot.
function buildTiltControls(fig) {
  const controls = el('div', { class: 'tilt-controls' });
  const pick = (label, name) => {
    const select = el('select', { 'data-control': name, 'aria-label': label });
    controls.append(el('label', { text: label }), select);
    return select;
  };
  const strongSelect = pick('Strongly regularized', 'strong');
  const weakSelect = pick('Weakly regularized', 'weak');
  const rotation = el('div', { class: 'tilt-rotation' });
  const play = el('button', { type: 'button', text: 'Play', 'aria-pressed': 'false' });
  const rotInput = el('input', { type: 'range', min: '0', max: '1', step: '0.01', value: '0', 'data-control': 'rot', 'aria-label': 'View: from the strong model’s tilting plane (0) to the weak model’s (1)' });
  const rotLabel = el('span', { class: 'unit' });
  rotation.append(play, rotInput, rotLabel);
  const dl = el('dl', { class: 'readouts' });
  const rThetaS = readout(dl, 'theta-strong', 'θ, strong');
  const rThetaW = readout(dl, 'theta-weak', 'θ, weak');
  const rAngle = readout(dl, 'normals-angle', 'Angle between n̂<sub>strong</sub> and n̂<sub>weak</sub>');
  const plot = el('div', { class: 'plot tilt-plot', role: 'img', 'aria-label': 'Training images in three dimensions with two decision boundaries as planes' });
  const note = el('p', { class: 'fig-note' });
  fig.append(controls, rotation, dl, plot, note);
  return { strongSelect, weakSelect, rotation, play, rotInput, rotLabel, rThetaS, rThetaW, rAngle, plot, note };
}

const reducedMotion = () => window.matchMedia?.('(prefers-reduced-motion: reduce)').matches;

// Play: the camera sweeps from one tilting plane to the other and back (~20 frames a
// second), or, where the reader asked for reduced motion, goes straight to the other end.
function cameraSweep(play, { rotation, setRotation, save }) {
  let anim = null;
  function stop() {
    if (anim) cancelAnimationFrame(anim.frame);
    anim = null;
    play.textContent = 'Play';
    play.setAttribute('aria-pressed', 'false');
  }
  play.addEventListener('click', () => {
    if (anim) { stop(); save(); return; }
    if (reducedMotion()) { setRotation(rotation() < 0.5 ? 1 : 0); return; }
    play.textContent = 'Pause';
    play.setAttribute('aria-pressed', 'true');
    anim = { start: performance.now(), from: rotation(), last: 0, frame: 0 };
    const tick = (now) => {
      if (!anim) return;
      if (now - anim.last > 50) {
        anim.last = now;
        const phase = ((now - anim.start) / SWEEP_MS + anim.from) % 2;
        setRotation(phase <= 1 ? phase : 2 - phase, false);
      }
      anim.frame = requestAnimationFrame(tick);
    };
    anim.frame = requestAnimationFrame(tick);
  });
  return { stop };
}

export function mount(root, store, plotly) {
  ensureStoryCss();
  const params = store.get(); // tiltStrongLog10Lambda, tiltWeakLog10Lambda, tiltRotation (state.js)
  const fig = el('div', { class: 'fig story-tilt3d' });
  root.append(fig);
  const { strongSelect, weakSelect, rotation, play, rotInput, rotLabel, rThetaS, rThetaW, rAngle, plot, note } = buildTiltControls(fig);

  let exp = null; let Plotly = null; let built = false; let near = false; let drawn = null;
  let ks = 0; let kw = 0; let rot = params.tiltRotation ?? DEFAULT_ROT; let phiW = 0; let beta = 0.6;

  const save = () => store.set({ tiltStrongLog10Lambda: exp.log10Lambdas[ks], tiltWeakLog10Lambda: exp.log10Lambdas[kw], tiltRotation: rot });

  function setRotation(value, persist = true) {
    rot = value;
    rotInput.value = String(rot);
    rotLabel.textContent = rot < 0.005 ? 'strong model’s plane' : rot > 0.995 ? 'weak model’s plane' : Math.abs(rot - 0.5) < 0.005 ? 'oblique view' : `${Math.round(rot * 100)} % of the way`;
    if (built) Plotly.relayout(plot, { 'scene.camera': camera(rot, phiW, beta) });
    if (persist) save();
  }

  function build(force = false) {
    if (!exp || !(near || force)) return;
    const scene = tiltScene(exp, ks, kw, rot, plot.clientWidth || 600);
    ({ phiW, beta } = scene);
    plot.tiltNormals = scene.normals;
    drawn = Plotly.react(plot, scene.traces, scene.layout, PLOT_CONFIG);
    built = true;
    plot.dataset.points = String(scene.shown);
    rThetaS.set(exp.model(ks).theta_deg, fmt.deg(exp.model(ks).theta_deg));
    rThetaW.set(exp.model(kw).theta_deg, fmt.deg(exp.model(kw).theta_deg));
    rAngle.set((phiW * 180) / Math.PI, fmt.deg((phiW * 180) / Math.PI));
    note.innerHTML = tiltNote(exp, ks, kw, scene);
    rotation.hidden = scene.flat;
    setRotation(rot, false);
  }

  function purge() {
    stop();
    if (built && Plotly) Plotly.purge(plot);
    built = false;
  }

  const sweep = cameraSweep(play, { rotation: () => rot, setRotation, save });
  const stop = sweep.stop;
  rotInput.addEventListener('input', () => { stop(); setRotation(Number(rotInput.value)); });
  for (const [select, which] of [[strongSelect, 's'], [weakSelect, 'w']]) {
    select.addEventListener('change', () => {
      if (which === 's') ks = Number(select.value); else kw = Number(select.value);
      build(); save();
    });
  }

  async function load(experimentId) {
    try {
      const { experiment } = await resolveExperiment(experimentId);
      const [e, P] = await Promise.all([loadExperiment(experiment.id, NAMES), plotly]);
      exp = e; Plotly = P;
      const d = defaultModels(e.manifest.models);
      ks = params.tiltStrongLog10Lambda !== undefined ? e.nearestK(params.tiltStrongLog10Lambda) : d.strong;
      kw = params.tiltWeakLog10Lambda !== undefined ? e.nearestK(params.tiltWeakLog10Lambda) : d.weak;
      for (const select of [strongSelect, weakSelect]) {
        select.replaceChildren(...e.manifest.models.map((m, k) => el('option', { value: String(k), text: `λ = 10^${m.log10_lambda.toFixed(1)} (θ = ${m.theta_deg.toFixed(1)}°)` })));
      }
      strongSelect.value = String(ks); weakSelect.value = String(kw);
      build();
    } catch (err) {
      showError(fig, err);
    }
  }

  // Built only near the viewport; the WebGL context is released when the figure leaves it.
  // The print picture (figures.js) is made off screen too: the plot is built for it, then
  // released again unless the reader has come near meanwhile.
  root.drawForPicture = async () => {
    if (built || !exp) return () => {};
    build(true);
    await drawn;
    return () => { if (!near) purge(); };
  };
  if ('IntersectionObserver' in window) {
    new IntersectionObserver(([entry]) => {
      near = entry.isIntersecting;
      if (near && !built) build(); else if (!near) purge();
    }, { rootMargin: '300px 0px' }).observe(root);
  } else near = true;
  store.subscribe((state, changed) => { if (changed.includes('experiment')) { purge(); load(state.experiment); } });
  return load(store.get().experiment);
}
