// Shared by the story figures (network, toy, tilt3d, loss): their stylesheet, their own
// URL parameters (the shared store in state.js carries pair and λ; each story figure
// keeps its extra state under its own keys).
import { ROOT } from './data.js';
import { pageState } from './state.js';

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
