// The figures' derive step: pure functions from loaded data (an experiment from
// data.js's loadExperiment, a model index k, a chosen image) to the numbers a figure draws.
// No DOM, no state, no drawing: each figure module builds its markup once, derives with
// these on every change, and renders what they return. Tests import this module and
// compare its numbers with the API's (tests/browser/test_structure.py).
import { alongNormal, boxAdversarial, planePoint, score } from './maths.js';
import { losses, lossPoints } from './hist.js';

// --- the λ figures ---------------------------------------------------------------------

// The model readouts the λ figures show: [name, value] with the manifest's exact values.
export function modelReadouts(model) {
  return {
    theta: model.theta_deg, d_adv: model.d_adv, train_error: model.train_error,
    test_error: model.test_error, w_norm: model.w_norm,
  };
}

// The bundle's default gallery image for class `sign` (−1: I, +1: J) under the manifest's
// `defaults[key]` (chosen by its stated rule), else the first gallery image of that class.
export function defaultGallery(exp, key, sign) {
  const gy = exp.arrays.gallery_y.data;
  const chosen = exp.manifest.defaults?.[key]?.gallery;
  return Number.isInteger(chosen) && gy[chosen] === sign ? chosen : gy.findIndex((v) => v === sign);
}

// One chosen image at model k, from its analysis (maths.analyseImage: scores, distances and
// plane coordinates for every model): x, x_p, x_m and the valid-image adversarial x̃, their
// scores, and their places (u, v) in the tilting plane.
export function imageAtModel(analysis, exp, k) {
  const m = exp.model(k);
  const w = exp.row('weights', k); const b = exp.arrays.intercepts.data[k];
  const d = analysis.distances[k];
  const xp = alongNormal(analysis.x, w, m.w_norm, d, 1);
  const xm = alongNormal(analysis.x, w, m.w_norm, d, 2);
  const adv = boxAdversarial(analysis.x, w, b);
  const cos = Math.cos(m.theta); const sin = Math.sin(m.theta);
  const pa = planePoint(adv.image, exp, k);
  const u = analysis.u; const v = analysis.v[k];
  return {
    d, adv,
    images: [analysis.x, xp, xm, adv.image],
    scores: [analysis.scores[k], score(xp, w, b), score(xm, w, b), score(adv.image, w, b)],
    // ‖x − x‖, ‖x_p − x‖ = |d|, ‖x_m − x‖ = 2|d|, ‖x̃ − x‖
    moved: [0, Math.abs(d), 2 * Math.abs(d), adv.distance],
    plane: { u: [u, u - d * cos, u - 2 * d * cos, pa[0]], v: [v, v - d * sin, v - 2 * d * sin, pa[1]] },
  };
}

// The histogram of y·d(x) at model k as shares of the training and test sets, and the
// hinge loss max(0, 1 − ‖w‖t) in the same distance units (straight on either side of its
// kink at 1/‖w‖). `out` (two Float32Arrays of the bin count) is filled and returned, so a
// λ step allocates nothing.
export function histogramAtModel(exp, k, out = null) {
  const m = exp.model(k);
  const edges = exp.row('hist_edges', k);
  const train = exp.row('hist_train', k); const test = exp.row('hist_test', k);
  const shares = out?.train.length === train.length ? out : { train: new Float32Array(train.length), test: new Float32Array(train.length) };
  const nTrain = exp.manifest.counts.train; const nTest = exp.manifest.counts.test;
  for (let b = 0; b < train.length; b++) { shares.train[b] = train[b] / nTrain; shares.test[b] = test[b] / nTest; }
  const hinge = lossPoints((t) => losses.hinge(m.w_norm, t), edges[0], edges[edges.length - 1], { count: 1, kinks: [1 / m.w_norm] });
  return { edges, shares, hinge, dAdv: m.d_adv };
}

// The explorer's curves against log10 λ: tilt, d_adv and the two errors (in %).
export function pathCurves(models) {
  return {
    log10Lambda: models.map((m) => m.log10_lambda),
    theta: models.map((m) => m.theta_deg),
    dAdv: models.map((m) => m.d_adv),
    trainErrorPct: models.map((m) => 100 * m.train_error),
    testErrorPct: models.map((m) => 100 * m.test_error),
  };
}

// --- figure 2, linear classifiers too ---------------------------------------------------

// For one image x and every model: ‖x̃ − x‖ of the exact valid-image adversarial (Infinity
// where no valid image crosses) and ‖x_m − x‖ = 2|d(x)|.
export function distancesAlongPath(exp, x) {
  const adv = new Float64Array(exp.nModels); const mirror = new Float64Array(exp.nModels);
  for (let k = 0; k < exp.nModels; k++) {
    const w = exp.row('weights', k); const b = exp.arrays.intercepts.data[k];
    mirror[k] = (2 * Math.abs(score(x, w, b))) / exp.model(k).w_norm;
    adv[k] = boxAdversarial(x, w, b).distance;
  }
  return { adv, mirror };
}

// x at model k: its score, the valid-image adversarial, that image's score and δ = x̃ − x.
export function adversarialAtModel(exp, x, k) {
  const w = exp.row('weights', k); const b = exp.arrays.intercepts.data[k];
  const adv = boxAdversarial(x, w, b);
  return { score: score(x, w, b), adv, advScore: score(adv.image, w, b), delta: adv.image.map((v, i) => v - x[i]) };
}
