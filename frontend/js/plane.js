// The tilting plane span(ẑ, ŵ): every training point (test points optional), the
// boundary line and ŵ drawn from the model, the 2·d_adv band and the centroids as
// images. Shared by the teaser and the explorer. Per-model arrays are split by class
// once at load; a λ step hands Plotly views of rows it already has.
import { clipLine, clipPolygon } from './maths.js';
import { toDataUrl } from './images.js';
import { COLOURS, PLOT_CONFIG, plotFont } from './ui.js';

function splitByClass(exp, prefix) {
  const u = exp.arrays[`${prefix}_u`].data;
  const V = exp.arrays[`${prefix}_v`].data;
  const y = exp.arrays[`${prefix}_y`].data;
  const { K } = exp;
  const n = y.length;
  const out = {};
  for (const [name, sign] of [['I', -1], ['J', 1]]) {
    const idx = [];
    for (let i = 0; i < n; i++) if (y[i] === sign) idx.push(i);
    const cu = new Float32Array(idx.length);
    idx.forEach((src, t) => { cu[t] = u[src]; });
    const cv = new Float32Array(K * idx.length);
    for (let k = 0; k < K; k++) {
      const base = k * n; const dst = k * idx.length;
      for (let t = 0; t < idx.length; t++) cv[dst + t] = V[base + idx[t]];
    }
    out[name] = { u: cu, rows: Array.from({ length: K }, (_, k) => cv.subarray(k * idx.length, (k + 1) * idx.length)), n: idx.length };
  }
  return out;
}

function extent(values, into) {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < into[0]) into[0] = v;
    if (v > into[1]) into[1] = v;
  }
  return into;
}

export function planePlot(div, exp, { digits, compact = false } = {}) {
  const train = splitByClass(exp, 'train');
  let test = null;
  const uRange = extent(exp.arrays.train_u.data, [Infinity, -Infinity]);
  const vRange = extent(exp.arrays.train_v.data, [Infinity, -Infinity]);
  const pad = (r, f) => { const w = r[1] - r[0]; return [r[0] - f * w, r[1] + f * w]; };
  let ur = pad(uRange, 0.04);
  let vr = pad(vRange, 0.04);

  const { dim, side } = exp;
  const C = exp.arrays.centroids.data;
  let gap = 0;
  for (let i = 0; i < dim; i++) gap += (C[dim + i] - C[i]) ** 2;
  const half = Math.sqrt(gap) / 2; // centroid i sits at (−‖j−i‖/2, 0), j at (+‖j−i‖/2, 0)
  const size = 0.14 * (ur[1] - ur[0]);
  const centroidImages = [0, 1].map((c) => ({
    source: toDataUrl(C.subarray(c * dim, (c + 1) * dim), side),
    xref: 'x', yref: 'y', x: c ? half : -half, y: 0, sizex: size, sizey: size,
    xanchor: 'center', yanchor: 'middle', layer: 'above', opacity: 0.92,
  }));
  const [di, dj] = digits;

  const marker = (colour, open) => ({ color: colour, size: compact ? 3 : 3.5, opacity: open ? 0.8 : 0.45, symbol: open ? 'circle-open' : 'circle' });
  const cloud = (name, data, k, colour, open, visible) => ({
    type: 'scattergl', mode: 'markers', name, x: data.u, y: data.rows[k], marker: marker(colour, open), hoverinfo: 'skip', visible,
  });

  let showTest = false;
  let current = { k: 0, extras: [] };

  function render(k, extras = current.extras) {
    current = { k, extras };
    const m = exp.model(k);
    const cos = Math.cos(m.theta); const sin = Math.sin(m.theta); const c = m.boundary_offset;
    const band = clipPolygon([[ur[0], vr[0]], [ur[1], vr[0]], [ur[1], vr[1]], [ur[0], vr[1]]],
      [[cos, sin, c - m.d_adv], [-cos, -sin, -c - m.d_adv]]);
    const line = clipLine(cos, sin, c, ur, vr) ?? [];
    const foot = [-c * cos, -c * sin];
    const arrow = 0.16 * (ur[1] - ur[0]);
    const traces = [
      { type: 'scatter', mode: 'lines', name: `band of width 2·d_adv`, x: band.map((p) => p[0]), y: band.map((p) => p[1]), fill: 'toself', fillcolor: COLOURS.band, line: { width: 0 }, hoverinfo: 'skip' },
      cloud(`train ${di} (I)`, train.I, k, COLOURS.I, false, true),
      cloud(`train ${dj} (J)`, train.J, k, COLOURS.J, false, true),
    ];
    if (test) {
      traces.push(cloud(`test ${di}`, test.I, k, COLOURS.I, true, showTest), cloud(`test ${dj}`, test.J, k, COLOURS.J, true, showTest));
    }
    traces.push({ type: 'scatter', mode: 'lines', name: 'boundary', x: line.map((p) => p[0]), y: line.map((p) => p[1]), line: { color: COLOURS.ink, width: 2 }, hoverinfo: 'skip' });
    for (const e of extras) traces.push(e);
    const layout = {
      font: plotFont(),
      margin: { l: 44, r: 8, t: 8, b: 40 },
      height: Math.round(Math.min(compact ? 460 : 560, Math.max(compact ? 260 : 300, (div.clientWidth || 600) * (compact ? 0.5 : 0.62)))),
      showlegend: !compact,
      legend: { orientation: 'h', y: -0.16, x: 0, font: { size: 11 } },
      xaxis: { range: ur, constrain: 'domain', fixedrange: true, zeroline: false, gridcolor: COLOURS.grid, title: { text: '(x − m)·ẑ', standoff: 4 } },
      yaxis: { range: vr, fixedrange: true, zeroline: false, gridcolor: COLOURS.grid, scaleanchor: 'x', scaleratio: 1, title: { text: '(x − m)·n̂', standoff: 2 } },
      images: centroidImages,
      annotations: [{
        x: foot[0] + arrow * cos, y: foot[1] + arrow * sin, ax: foot[0], ay: foot[1], axref: 'x', ayref: 'y', xref: 'x', yref: 'y',
        showarrow: true, arrowhead: 2, arrowsize: 1.2, arrowwidth: 2, arrowcolor: COLOURS.ink, text: '',
      }, {
        x: foot[0] + 1.12 * arrow * cos, y: foot[1] + 1.12 * arrow * sin, xref: 'x', yref: 'y', text: 'ŵ', showarrow: false, font: { size: 15 },
      }],
      plot_bgcolor: '#fff', paper_bgcolor: 'rgba(0,0,0,0)', dragmode: false, hovermode: false,
    };
    return window.Plotly.react(div, traces, layout, PLOT_CONFIG);
  }

  return {
    render,
    setTest(show, testExp) {
      if (testExp && !test) {
        test = splitByClass(testExp, 'test');
        ur = pad(extent(testExp.arrays.test_u.data, [...uRange]), 0.04);
        vr = pad(extent(testExp.arrays.test_v.data, [...vRange]), 0.04);
      }
      showTest = show;
      return render(current.k);
    },
    data: () => ({ train, test }),
  };
}
