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

// Chosen images: {x, y, marks, colour, symbols} in plane coordinates.
function drawMarks(ctx, e, px, py) {
  ctx.save();
  ctx.font = `13px ${plotFont().family}`; ctx.textAlign = 'center'; ctx.textBaseline = 'bottom';
  e.x.forEach((u, i) => {
    const x = px(u); const y = py(e.y[i]); const r = e.sizes[i] / 2;
    ctx.beginPath();
    if (e.symbols[i] === 'square') ctx.rect(x - r, y - r, 2 * r, 2 * r);
    else if (e.symbols[i] === 'diamond') { ctx.moveTo(x, y - r); ctx.lineTo(x + r, y); ctx.lineTo(x, y + r); ctx.lineTo(x - r, y); ctx.closePath(); }
    else if (e.symbols[i] === 'x') { ctx.moveTo(x - r, y - r); ctx.lineTo(x + r, y + r); ctx.moveTo(x + r, y - r); ctx.lineTo(x - r, y + r); }
    else ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.lineWidth = e.symbols[i] === 'x' ? 3 : 1.5;
    if (e.symbols[i] === 'x') { ctx.strokeStyle = '#fff'; ctx.stroke(); ctx.lineWidth = 2; ctx.strokeStyle = e.colour; ctx.stroke(); }
    else { ctx.fillStyle = e.colour; ctx.fill(); ctx.strokeStyle = '#fff'; ctx.stroke(); }
    ctx.fillStyle = e.colour;
    ctx.fillText(e.marks[i], x, y - r - 2);
  });
  ctx.restore();
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
  // Legend entries only: the band and the boundary themselves are drawn on the overlay.
  const legendOnly = (name, style) => ({ type: 'scatter', mode: 'lines', name, x: [null], y: [null], hoverinfo: 'skip', ...style });

  const narrow = () => (div.clientWidth || 600) < 480;
  let showTest = false;
  let current = { k: 0, extras: [] };
  let clouds = []; // [trace index, class data] of every point cloud Plotly drew
  let drawnK = null;

  // The 2-D overlay: band, boundary, ŵ and the chosen images, redrawn on every step from
  // Plotly's own axis mapping (no Plotly call), and after every Plotly redraw.
  const overlay = document.createElement('canvas');
  overlay.className = 'plane-overlay';
  overlay.setAttribute('aria-hidden', 'true');

  function drawOverlay() {
    const full = div._fullLayout;
    if (!full || !full.xaxis) return;
    const xa = full.xaxis; const ya = full.yaxis;
    const W = full.width; const H = full.height; const dpr = window.devicePixelRatio || 1;
    if (overlay.width !== Math.round(W * dpr) || overlay.height !== Math.round(H * dpr)) {
      overlay.width = Math.round(W * dpr); overlay.height = Math.round(H * dpr);
      overlay.style.width = `${W}px`; overlay.style.height = `${H}px`;
    }
    if (!overlay.isConnected) div.append(overlay);
    const ctx = overlay.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    const px = (u) => xa._offset + xa.l2p(u); const py = (v) => ya._offset + ya.l2p(v);
    ctx.save();
    ctx.beginPath(); ctx.rect(xa._offset, ya._offset, xa._length, ya._length); ctx.clip();
    const m = exp.model(current.k);
    const cos = Math.cos(m.theta); const sin = Math.sin(m.theta); const c = m.boundary_offset;
    const band = clipPolygon([[ur[0], vr[0]], [ur[1], vr[0]], [ur[1], vr[1]], [ur[0], vr[1]]],
      [[cos, sin, c - m.d_adv], [-cos, -sin, -c - m.d_adv]]);
    if (band.length) {
      ctx.beginPath();
      band.forEach(([u, v], i) => (i ? ctx.lineTo(px(u), py(v)) : ctx.moveTo(px(u), py(v))));
      ctx.closePath(); ctx.fillStyle = COLOURS.band; ctx.fill();
    }
    const line = clipLine(cos, sin, c, ur, vr);
    if (line) {
      ctx.beginPath(); ctx.moveTo(px(line[0][0]), py(line[0][1])); ctx.lineTo(px(line[1][0]), py(line[1][1]));
      ctx.strokeStyle = COLOURS.ink; ctx.lineWidth = 2; ctx.stroke();
    }
    // ŵ: an arrow from the foot of the boundary nearest m, along the normal.
    const foot = [-c * cos, -c * sin]; const arrow = 0.16 * (ur[1] - ur[0]);
    const [x0, y0] = [px(foot[0]), py(foot[1])]; const [x1, y1] = [px(foot[0] + arrow * cos), py(foot[1] + arrow * sin)];
    const angle = Math.atan2(y1 - y0, x1 - x0);
    ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.stroke();
    ctx.beginPath(); ctx.moveTo(x1, y1);
    for (const side of [-1, 1]) ctx.lineTo(x1 - 9 * Math.cos(angle + side * 0.4), y1 - 9 * Math.sin(angle + side * 0.4));
    ctx.closePath(); ctx.fillStyle = COLOURS.ink; ctx.fill();
    ctx.font = `15px ${plotFont().family}`; ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
    ctx.fillText('ŵ', px(foot[0] + 1.25 * arrow * cos), py(foot[1] + 1.25 * arrow * sin));
    ctx.restore();
    for (const e of current.extras) drawMarks(ctx, e, px, py);
  }

  function render(k, extras = current.extras) {
    current = { k, extras };
    if (drawnK === null || !div._fullLayout?._plots) return plot();
    // A step: the clouds' rows go to WebGL as they are; the rest is the overlay.
    const scene = div._fullLayout._plots.xy?._scene;
    if (drawnK !== k && scene?.scatter2d && scene.markerOptions) {
      const updates = scene.markerOptions.map(() => null);
      for (const [index, data] of clouds) {
        const row = data.rows[k];
        div.data[index].y = row; // what a later full redraw (and a test) reads
        if (div.data[index].visible === false) continue;
        const batch = div.calcdata?.[index]?.[0]?.t?.index;
        const pos = scene.markerOptions[batch]?.positions;
        if (!pos || pos.length !== 2 * row.length) return plot();
        for (let t = 0; t < row.length; t++) pos[2 * t + 1] = row[t];
        updates[batch] = { positions: pos };
      }
      scene.scatter2d.update(updates);
      scene.draw();
      // Hand the draw to the GPU now, so it runs while this frame's other work does.
      div._fullLayout._glcanvas?.data()[0]?.regl?._gl?.flush();
    } else if (drawnK !== k) {
      return plot();
    }
    drawnK = k;
    drawOverlay();
    return Promise.resolve(div);
  }

  // A full Plotly draw: on load, on the test toggle and when the plot resizes.
  function plot() {
    const { k } = current;
    drawnK = k;
    const traces = [
      cloud(`train ${di} (I)`, train.I, k, COLOURS.I, false, true),
      cloud(`train ${dj} (J)`, train.J, k, COLOURS.J, false, true),
    ];
    clouds = [[1, train.I], [2, train.J]];
    if (test) {
      traces.push(cloud(`test ${di}`, test.I, k, COLOURS.I, true, showTest), cloud(`test ${dj}`, test.J, k, COLOURS.J, true, showTest));
      clouds.push([3, test.I], [4, test.J]);
    }
    // Trace 0 is a placeholder so the clouds keep their indices (tests read data[1]).
    traces.unshift(legendOnly('band of width 2·d_adv', { fill: 'toself', fillcolor: COLOURS.band, line: { width: 0 } }));
    traces.push(legendOnly('boundary', { line: { color: COLOURS.ink, width: 2 } }));
    const layout = {
      font: plotFont(),
      margin: { l: narrow() ? 34 : 44, r: 8, t: 8, b: 40 },
      height: Math.round(Math.min(compact ? 460 : 560, Math.max(compact ? 260 : 300, (div.clientWidth || 600) * (compact ? 0.5 : 0.62)))),
      showlegend: !compact && !narrow(), // on a phone the figure's note and colours explain the marks
      legend: { orientation: 'h', y: -0.16, x: 0, font: { size: 11 } },
      xaxis: { range: ur, constrain: 'domain', fixedrange: true, zeroline: false, gridcolor: COLOURS.grid, title: { text: '(x − m)·ẑ', standoff: 4 } },
      yaxis: { range: vr, fixedrange: true, zeroline: false, gridcolor: COLOURS.grid, scaleanchor: 'x', scaleratio: 1, title: { text: '(x − m)·n̂', standoff: 2 } },
      images: centroidImages,
      plot_bgcolor: '#fff', paper_bgcolor: 'rgba(0,0,0,0)', dragmode: false, hovermode: false,
    };
    return window.Plotly.react(div, traces, layout, PLOT_CONFIG).then((gd) => {
      if (!div.dataset.overlay) {
        div.dataset.overlay = '1';
        div.on('plotly_afterplot', drawOverlay);
      }
      drawOverlay();
      return gd;
    });
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
      drawnK = null;
      return render(current.k);
    },
    data: () => ({ train, test }),
  };
}
