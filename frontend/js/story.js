// Shared by the story figures (network, toy, tilt3d, loss): their stylesheet, and reading
// and writing their URL keys through the one table in state.js.
import { ROOT } from './data.js';
import { defineKeys, pageState, rowOfKey } from './state.js';

export function ensureStoryCss() {
  if (document.querySelector('link[data-story-css]')) return;
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = new URL('css/story.css', ROOT).href;
  link.dataset.storyCss = '';
  document.head.append(link);
}

// For a figure that names its state by URL key rather than by store field (the network
// figure): the values for those keys. A key not in the table yet becomes a row of it, owned
// by `figure`, with the spec's parser (a function, or a {parse, format} from `parse` below).
export function readParams(spec, figure = 'network') {
  const state = pageState().store.get();
  const p = new URLSearchParams(location.search);
  const out = {};
  for (const [key, parser] of Object.entries(spec)) {
    let row = rowOfKey(key);
    if (!row) {
      const parse = typeof parser === 'function' ? parser : parser.parse;
      defineKeys([{ key, field: key, figures: [figure], parse, format: parser.format ?? String }]);
      row = rowOfKey(key);
      const value = p.has(key) ? parse(p.get(key)) : undefined;
      if (value !== undefined && value !== null && !Number.isNaN(value)) out[key] = value;
      continue;
    }
    if (state[row.field] !== undefined && state[row.field] !== null) out[key] = state[row.field];
  }
  return out;
}

// The same, writing: the values go to the store under their fields, and the store writes the
// URL (one writer, one timer). null removes a key.
export function writeParams(figure, values) {
  const patch = {};
  for (const [key, value] of Object.entries(values)) {
    let row = rowOfKey(key);
    if (!row) {
      defineKeys([{ key, field: key, figures: [figure], parse: String }]);
      row = rowOfKey(key);
    }
    if (!row.figures.includes(figure)) row.figures.push(figure);
    patch[row.field] = value ?? undefined;
  }
  pageState().store.set(patch);
}

export { types as parse } from './state.js';
