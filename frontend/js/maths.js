// The boundary-tilting geometry for one image, in the browser (a port of
// precompute/geometry.py). Conventions: class I has y = −1, class J y = +1;
// score s(x) = w·x + b; predicted J when s(x) > 0.

export const ADVERSARIAL_OVERSHOOT = 1e-3; // L2 pixel units past the boundary, as in the bundle

export function dot(a, b, offsetB = 0) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[offsetB + i];
  return s;
}

// For an image x and every model k: scores s_k, signed distances d_k, and the plane
// coordinates (u, v_k). One nModels×d product, done once when the image is chosen.
export function analyseImage(x, exp) {
  const { nModels, dim } = exp;
  const W = exp.arrays.weights.data;
  const B = exp.arrays.intercepts.data;
  const N = exp.arrays.normals.data;
  const C = exp.arrays.centroids.data;
  const z = exp.arrays.z_hat.data;
  const centred = new Float64Array(dim);
  for (let i = 0; i < dim; i++) centred[i] = x[i] - 0.5 * (C[i] + C[dim + i]);
  const scores = new Float64Array(nModels);
  const distances = new Float64Array(nModels);
  const v = new Float64Array(nModels);
  for (let k = 0; k < nModels; k++) {
    scores[k] = dot(x, W, k * dim) + B[k];
    distances[k] = scores[k] / exp.model(k).w_norm;
    v[k] = dot(centred, N, k * dim);
  }
  return { x, centred, scores, distances, u: dot(centred, z), v };
}

// Plane coordinates of an arbitrary image for model k.
export function planePoint(img, exp, k) {
  const { dim } = exp;
  const C = exp.arrays.centroids.data;
  const z = exp.arrays.z_hat.data;
  const N = exp.arrays.normals.data;
  let u = 0; let v = 0;
  for (let i = 0; i < dim; i++) {
    const c = img[i] - 0.5 * (C[i] + C[dim + i]);
    u += c * z[i];
    v += c * N[k * dim + i];
  }
  return [u, v];
}

// x − f·d(x)·ŵ: f = 1 gives the projection x_p onto the boundary, f = 2 the mirror x_m.
export function alongNormal(x, w, wNorm, distance, f) {
  const out = new Float32Array(x.length);
  const step = (f * distance) / wNorm;
  for (let i = 0; i < x.length; i++) out[i] = x[i] - step * w[i];
  return out;
}

export function score(x, w, b) { return dot(x, w) + b; }

// The smallest L2 change keeping the image in [0, 1]^d that crosses the boundary by
// `overshoot`: clip(x − tσw, 0, 1) with t found exactly by sorting the pixels'
// breakpoints (where each pixel hits 0 or 1). Returns {image, distance, t};
// distance is Infinity (and image a copy of x) when no valid image crosses.
export function boxAdversarial(x, w, b, overshoot = ADVERSARIAL_OVERSHOOT) {
  const d = x.length;
  let s = b; let wsq = 0;
  for (let i = 0; i < d; i++) { s += w[i] * x[i]; wsq += w[i] * w[i]; }
  const sigma = s > 0 ? 1 : -1;
  const breaks = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    const sw = sigma * w[i];
    const t = sw > 0 ? x[i] / sw : sw < 0 ? (x[i] - 1) / sw : Infinity;
    breaks[i] = Math.max(t, 0);
  }
  const order = Array.from({ length: d }, (_, i) => i).sort((a, c) => breaks[a] - breaks[c]);
  const start = sigma * s;
  const target = -overshoot * Math.sqrt(wsq);
  let spent = 0; let remaining = wsq;
  let tPrev = 0; let phiPrev = start; let slope = wsq;
  let tStar = null;
  for (const i of order) {
    const t = breaks[i];
    if (!Number.isFinite(t)) break; // w_i = 0: the pixel never moves
    const wi2 = w[i] * w[i];
    spent += wi2 * t;
    remaining -= wi2;
    const phi = start - spent - t * remaining;
    if (phi <= target) { tStar = tPrev + (phiPrev - target) / slope; break; }
    tPrev = t; phiPrev = phi; slope = remaining;
  }
  if (tStar === null) return { image: Float32Array.from(x), distance: Infinity, t: null };
  const image = new Float32Array(d);
  let dist2 = 0;
  for (let i = 0; i < d; i++) {
    const z = Math.min(1, Math.max(0, x[i] - tStar * sigma * w[i]));
    image[i] = z;
    dist2 += (z - x[i]) ** 2;
  }
  return { image, distance: Math.sqrt(dist2), t: tStar };
}

export function l2(a, b) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - (b ? b[i] : 0)) ** 2;
  return Math.sqrt(s);
}

// The segment of the line cos θ·u + sin θ·v + c = 0 inside [u0,u1]×[v0,v1] (or null).
export function clipLine(cos, sin, c, [u0, u1], [v0, v1]) {
  const pts = [];
  if (Math.abs(sin) > 1e-12) {
    for (const u of [u0, u1]) { const v = -(c + cos * u) / sin; if (v >= v0 && v <= v1) pts.push([u, v]); }
  }
  if (Math.abs(cos) > 1e-12) {
    for (const v of [v0, v1]) { const u = -(c + sin * v) / cos; if (u >= u0 && u <= u1) pts.push([u, v]); }
  }
  let best = null; let far = -1;
  for (const p of pts) for (const q of pts) {
    const dd = (p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2;
    if (dd > far) { far = dd; best = [p, q]; }
  }
  return best;
}

// Sutherland–Hodgman: keep the part of a polygon where a·u + b·v + c ≤ 0 for each half-plane.
export function clipPolygon(points, halfPlanes) {
  let poly = points;
  for (const [a, b, c] of halfPlanes) {
    const out = [];
    for (let i = 0; i < poly.length; i++) {
      const p = poly[i]; const q = poly[(i + 1) % poly.length];
      const fp = a * p[0] + b * p[1] + c; const fq = a * q[0] + b * q[1] + c;
      if (fp <= 0) out.push(p);
      if ((fp < 0 && fq > 0) || (fp > 0 && fq < 0)) {
        const t = fp / (fp - fq);
        out.push([p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]);
      }
    }
    poly = out;
    if (!poly.length) break;
  }
  return poly;
}
