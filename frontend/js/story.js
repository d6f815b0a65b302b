// Shared by the story figures (network, toy, tilt3d, loss): their stylesheet, their own
// URL parameters (the shared store in state.js carries pair and λ; each story figure
// keeps its extra state under its own keys), and painting rectangular images.
import { ROOT } from './data.js';
import { pageState } from './figures.js';

export function ensureStoryCss() {
  if (document.querySelector('link[data-story-css]')) return;
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = new URL('css/story.css', ROOT).href;
  link.dataset.storyCss = '';
  document.head.append(link);
}

// Read this figure's parameters: spec maps key -> (string) => value | undefined.
export function readParams(spec, search = location.search) {
  const p = new URLSearchParams(search);
  const out = {};
  for (const [key, parse] of Object.entries(spec)) {
    if (!p.has(key)) continue;
    const value = parse(p.get(key));
    if (value !== undefined && value !== null && !Number.isNaN(value)) out[key] = value;
  }
  return out;
}

export const parse = {
  int: (lo, hi) => (s) => { const v = Number.parseInt(s, 10); return /^-?\d+$/.test(s) && v >= lo && v <= hi ? v : undefined; },
  num: (lo, hi) => (s) => { const v = Number.parseFloat(s); return Number.isFinite(v) && v >= lo && v <= hi ? v : undefined; },
  oneOf: (...values) => (s) => (values.includes(s) ? s : undefined),
};

// Write this figure's parameters into the URL once the reader pauses (browsers throttle
// rapid replaceState), keeping every other parameter; then nudge the shared store so the
// "Embed this figure" snippet, which reads location.search, shows the new state.
const pendingParams = {};
let paramTimer = null;
export function writeParams(figure, values) {
  Object.assign(pendingParams, values);
  clearTimeout(paramTimer);
  paramTimer = setTimeout(() => {
    const p = new URLSearchParams(location.search);
    for (const [key, value] of Object.entries(pendingParams)) {
      if (value === undefined || value === null) p.delete(key); else p.set(key, String(value));
      delete pendingParams[key];
    }
    const text = p.toString();
    history.replaceState(history.state, '', (text ? `?${text}` : location.pathname) + location.hash);
    const { store } = pageState();
    store.set({ [`story_${figure}`]: text });
  }, 200);
}

// Paint a width×height image (row-major values) with colour(value) -> [r, g, b].
export function paintRect(canvas, values, width, height, colour) {
  if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    const [r, g, b] = colour(values[i]);
    image.data[4 * i] = r; image.data[4 * i + 1] = g; image.data[4 * i + 2] = b; image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

// Signed values in [−scale, scale]: blue for negative, orange for positive, white at 0
// (the same colours as images.js's diverging map).
const NEG = [33, 102, 172];
const POS = [214, 96, 39];
export function diverging(scale) {
  return (v) => {
    const t = Math.max(-1, Math.min(1, v / scale));
    const c = t < 0 ? NEG : POS;
    const a = Math.abs(t);
    return [0, 1, 2].map((ch) => Math.round(255 + a * (c[ch] - 255)));
  };
}
