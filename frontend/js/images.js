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

// One ImageData per canvas, reused: a λ step repaints a dozen images, and fresh
// buffers on every step would keep the garbage collector busy mid-frame.
const buffers = new WeakMap();

// Fill a width×height canvas: rgb(value, i) returns the pixel's packed 0xRRGGBB.
function paint(canvas, values, width, height, rgb) {
  if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
  const ctx = canvas.getContext('2d');
  let image = buffers.get(canvas);
  if (!image || image.width !== width || image.height !== height) {
    image = ctx.createImageData(width, height);
    buffers.set(canvas, image);
  }
  const d = image.data;
  for (let i = 0; i < width * height; i++) {
    const c = rgb(values[i]);
    d[4 * i] = c >> 16; d[4 * i + 1] = (c >> 8) & 255; d[4 * i + 2] = c & 255; d[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

// Ink is dark on paper: pixel value 1 is black, 0 white; values outside [0, 1] are clipped.
const gray = (v) => { const g = Math.round(255 * (1 - Math.min(1, Math.max(0, v)))); return (g << 16) | (g << 8) | g; };

export function drawGray(canvas, pixels, side) {
  paint(canvas, pixels, side, side, gray);
}

// Images that can leave [0, 1] (x_p, x_m, and their neighbours for comparison) on mid-grey,
// one fixed mapping for every λ: value v is drawn at ink level (1 + v)/2, so 0 (paper) is
// mid-grey, 1 (full ink) black and −1 white; values beyond ±1 are clipped. What an image
// gains or loses outside [0, 1] stays visible.
export const MIDGREY_NOTE = 'drawn on mid-grey: a pixel value v is shown at grey level (1 + v)/2, so 0 (blank paper) is mid-grey, 1 (full ink) black and −1 white; values beyond ±1 are clipped';
const midGray = (v) => { const g = Math.round(255 * Math.min(1, Math.max(0, 0.5 - 0.5 * v))); return (g << 16) | (g << 8) | g; };

export function drawMidGray(canvas, pixels, side) {
  paint(canvas, pixels, side, side, midGray);
  canvas.dataset.mapping = 'midgray';
}

// Diverging map: negative values blue (towards I), positive orange (towards J), zero white,
// full colour at |value| = scale.
const NEG = [33, 102, 172];
const POS = [214, 96, 39];
function divergingColour(scale) {
  return (v) => {
    const t = Math.max(-1, Math.min(1, v / scale));
    const c = t < 0 ? NEG : POS;
    const a = Math.abs(t);
    return (Math.round(255 + a * (c[0] - 255)) << 16) | (Math.round(255 + a * (c[1] - 255)) << 8) | Math.round(255 + a * (c[2] - 255));
  };
}

// A side×side image normalised by max |value| (or `scale`): a display choice, the caller
// says so. Returns the scale used.
export function drawDiverging(canvas, values, side, scale) {
  let m = scale;
  if (!m) { m = 0; for (let i = 0; i < side * side; i++) m = Math.max(m, Math.abs(values[i])); }
  m = m || 1;
  paint(canvas, values, side, side, divergingColour(m));
  canvas.dataset.scale = String(m); // the scale drawn (tests read it)
  return m;
}

// A width×height (row-major) signed image, full colour at |value| = scale.
export function drawDivergingRect(canvas, values, width, height, scale) {
  paint(canvas, values, width, height, divergingColour(scale));
}

export function toDataUrl(pixels, side) {
  const canvas = imageCanvas(side);
  drawGray(canvas, pixels, side);
  return canvas.toDataURL();
}
