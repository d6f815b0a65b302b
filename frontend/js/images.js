// Images on 2-D canvases: one canvas pixel per image pixel, scaled crisply by CSS.

export function imageCanvas(side, label) {
  const canvas = document.createElement('canvas');
  canvas.width = side;
  canvas.height = side;
  canvas.className = 'digit';
  canvas.setAttribute('role', 'img');
  if (label) canvas.setAttribute('aria-label', label);
  return canvas;
}

function paint(canvas, side, colour) {
  if (canvas.width !== side) { canvas.width = side; canvas.height = side; }
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(side, side);
  for (let i = 0; i < side * side; i++) {
    const [r, g, b] = colour(i);
    image.data[4 * i] = r; image.data[4 * i + 1] = g; image.data[4 * i + 2] = b; image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

// Ink is dark on paper: pixel value 1 is black, 0 white; values outside [0, 1] are clipped.
export function drawGray(canvas, pixels, side) {
  paint(canvas, side, (i) => {
    const v = Math.round(255 * (1 - Math.min(1, Math.max(0, pixels[i]))));
    return [v, v, v];
  });
}

// Diverging map: negative values blue (towards I), positive orange (towards J), zero white.
// Normalised by max |value| (or `scale`): a display choice, the caller says so.
const NEG = [33, 102, 172];
const POS = [214, 96, 39];
export function drawDiverging(canvas, values, side, scale) {
  let m = scale;
  if (!m) { m = 0; for (let i = 0; i < side * side; i++) m = Math.max(m, Math.abs(values[i])); }
  m = m || 1;
  paint(canvas, side, (i) => {
    const t = Math.max(-1, Math.min(1, values[i] / m));
    const c = t < 0 ? NEG : POS;
    const a = Math.abs(t);
    return [0, 1, 2].map((ch) => Math.round(255 + a * (c[ch] - 255)));
  });
  return m;
}

export function toDataUrl(pixels, side) {
  const canvas = imageCanvas(side);
  drawGray(canvas, pixels, side);
  return canvas.toDataURL();
}
