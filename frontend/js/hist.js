// The histogram of y·d(x) (train filled, test as a line) with the hinge loss on its own
// right-hand axis, drawn on a plain 2-D canvas: a λ step redraws it in well under a
// millisecond, where a Plotly redraw cost ~14 ms.
import { plotFont } from './ui.js';

const INK = '#333'; const HINGE = '#7b2cbf'; const GRID = '#e6e6e6';

// About `count` round tick values covering [lo, hi].
export function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw);
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) ticks.push(Math.abs(t) < 1e-12 * step ? 0 : t);
  return ticks;
}

const label = (t) => String(Number(t.toPrecision(6))).replace('-', '−');

export function histogramCanvas(div, height = 300) {
  const canvas = document.createElement('canvas');
  div.replaceChildren(canvas);
  const M = { l: 48, r: 48, t: 44, b: 42 };

  // edges: B + 1 bin edges; train, test: fractions per bin; wNorm, dAdv from the model.
  return function draw({ edges, train, test, wNorm, dAdv }) {
    const W = div.clientWidth || 600; const H = height; const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(W * dpr) || canvas.height !== Math.round(H * dpr)) {
      canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
      canvas.style.width = `${W}px`; canvas.style.height = `${H}px`;
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    const B = train.length; const lo = edges[0]; const hi = edges[B];
    let top = 0;
    for (let b = 0; b < B; b++) top = Math.max(top, train[b], test[b]);
    top = top > 0 ? top * 1.08 : 1;
    const hingeAt = (t) => Math.max(0, 1 - wNorm * t);
    const hTop = Math.max(hingeAt(lo), 1) * 1.08;
    const pw = W - M.l - M.r; const ph = H - M.t - M.b;
    const X = (t) => M.l + ((t - lo) / (hi - lo)) * pw;
    const Y = (f) => M.t + ph - (f / top) * ph;
    const Y2 = (h) => M.t + ph - (h / hTop) * ph;
    const font = plotFont().family;

    // Grid and ticks.
    ctx.font = `11px ${font}`; ctx.lineWidth = 1;
    ctx.textAlign = 'center'; ctx.textBaseline = 'top'; ctx.fillStyle = INK; ctx.strokeStyle = GRID;
    for (const t of niceTicks(lo, hi, Math.max(3, Math.floor(pw / 90)))) {
      ctx.beginPath(); ctx.moveTo(X(t), M.t); ctx.lineTo(X(t), M.t + ph); ctx.stroke();
      ctx.fillText(label(t), X(t), M.t + ph + 4);
    }
    ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    for (const f of niceTicks(0, top, 4)) {
      ctx.beginPath(); ctx.moveTo(M.l, Y(f)); ctx.lineTo(M.l + pw, Y(f)); ctx.stroke();
      ctx.fillText(label(f), M.l - 4, Y(f));
    }
    ctx.textAlign = 'left'; ctx.fillStyle = HINGE;
    for (const h of niceTicks(0, hTop, 4)) ctx.fillText(label(h), M.l + pw + 4, Y2(h));

    // Train: filled steps; test: a step line.
    const steps = (values) => {
      ctx.moveTo(X(lo), Y(0));
      for (let b = 0; b < B; b++) { ctx.lineTo(X(edges[b]), Y(values[b])); ctx.lineTo(X(edges[b + 1]), Y(values[b])); }
      ctx.lineTo(X(hi), Y(0));
    };
    ctx.save();
    ctx.beginPath(); ctx.rect(M.l, M.t, pw, ph); ctx.clip();
    ctx.beginPath(); steps(train); ctx.closePath(); ctx.fillStyle = 'rgba(90,90,90,0.5)'; ctx.fill();
    ctx.beginPath(); steps(test); ctx.strokeStyle = '#444'; ctx.lineWidth = 1.5; ctx.stroke();
    // Hinge loss max(0, 1 − ‖w‖t): a straight line down to the kink at t = 1/‖w‖, then 0.
    const kink = Math.min(Math.max(1 / wNorm, lo), hi);
    ctx.beginPath(); ctx.moveTo(X(lo), Y2(hingeAt(lo))); ctx.lineTo(X(kink), Y2(hingeAt(kink))); ctx.lineTo(X(hi), Y2(hingeAt(hi)));
    ctx.strokeStyle = HINGE; ctx.lineWidth = 2; ctx.stroke();
    // t = 0 (the boundary) and t = d_adv.
    ctx.strokeStyle = '#000'; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(X(0), M.t); ctx.lineTo(X(0), M.t + ph); ctx.stroke();
    ctx.setLineDash([2, 3]); ctx.beginPath(); ctx.moveTo(X(dAdv), M.t); ctx.lineTo(X(dAdv), M.t + ph); ctx.stroke();
    ctx.restore();
    ctx.fillStyle = '#000'; ctx.textAlign = 'center'; ctx.textBaseline = 'bottom';
    ctx.fillText('d_adv', X(Math.min(Math.max(dAdv, lo), hi)), M.t - 2);

    // Frame, axis titles and the legend.
    ctx.strokeStyle = INK; ctx.strokeRect(M.l, M.t, pw, ph);
    ctx.font = `12px ${font}`; ctx.fillStyle = INK; ctx.textBaseline = 'bottom';
    ctx.fillText('y·d(x): signed distance, positive = correct', M.l + pw / 2, H - 2);
    ctx.save(); ctx.translate(12, M.t + ph / 2); ctx.rotate(-Math.PI / 2); ctx.textBaseline = 'middle'; ctx.fillText('fraction', 0, 0); ctx.restore();
    ctx.save(); ctx.translate(W - 10, M.t + ph / 2); ctx.rotate(Math.PI / 2); ctx.textBaseline = 'middle'; ctx.fillStyle = HINGE; ctx.fillText('hinge', 0, 0); ctx.restore();
    ctx.font = `11px ${font}`; ctx.textAlign = 'left'; ctx.textBaseline = 'middle';
    let x = M.l;
    for (const [name, colour, fill] of [['train', 'rgba(90,90,90,0.5)', true], ['test', '#444', false], ['hinge loss', HINGE, false]]) {
      if (fill) { ctx.fillStyle = colour; ctx.fillRect(x, 8, 18, 8); } else { ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.beginPath(); ctx.moveTo(x, 12); ctx.lineTo(x + 18, 12); ctx.stroke(); }
      ctx.fillStyle = INK; ctx.fillText(name, x + 22, 12);
      x += 30 + ctx.measureText(name).width;
    }
  };
}
