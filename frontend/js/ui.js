// Shared figure plumbing: following the store, readouts, the embed snippet, errors.
import { ROOT, resolveExperiment, loadExperiment } from './data.js';
import { toSearch, DEFAULT_LOG10_LAMBDA } from './state.js';

export { DEFAULT_LOG10_LAMBDA };

// The model shown: the one nearest the state's log10 λ.
export function kFor(exp, state) {
  return exp.nearestK(state.log10Lambda ?? DEFAULT_LOG10_LAMBDA);
}

// Load a figure's arrays for the store's experiment, call `load` once per experiment and
// `step(k, state, changed)` when one of `fields` (store fields) changes. A λ step never
// touches the network.
export function follow(store, { names, half = [], load, step, onError, plotly = null, root = null, fields = ['log10Lambda'] }) {
  let exp = null;
  let token = 0;
  // A figure scrolled out of view does not redraw on every λ step; it catches up with
  // the latest state when it comes back (window.__tilting.updateOffscreen forces redraws).
  let visible = true;
  let pending = null;
  const catchUp = () => { if (pending && exp) { const p = pending; pending = null; step(kFor(exp, p.state), p.state, p.changed); } };
  if (root && 'IntersectionObserver' in window) {
    new IntersectionObserver(([entry]) => {
      visible = entry.isIntersecting;
      if (visible) catchUp();
    }).observe(root);
    root.catchUp = catchUp; // the print pictures (figures.js) bring a figure off screen up to date
  }
  async function refresh(state) {
    const mine = ++token;
    try {
      const { experiment } = await resolveExperiment(state.experiment);
      const [e] = await Promise.all([loadExperiment(experiment.id, names, half), plotly]);
      if (mine !== token) return;
      exp = e;
      await load(e, store.get());
      step(kFor(e, store.get()), store.get(), ['all']);
    } catch (err) {
      if (onError) onError(err); else throw err;
    }
  }
  store.subscribe((state, changed) => {
    if (changed.includes('experiment')) refresh(state);
    else if (!changed.some((f) => fields.includes(f))) return;
    else if (exp && (visible || window.__tilting?.updateOffscreen)) step(kFor(exp, state), state, changed);
    else if (exp) pending = { state, changed: [...new Set([...(pending?.changed ?? []), ...changed])] };
  });
  return refresh(store.get());
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k === 'html') node.innerHTML = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

// A labelled number: <dt>label</dt><dd><output>. `set(value, text)` keeps the exact
// value in data-value (tests compare it with the API) and shows the rounded text.
export function readout(parent, name, label, unitNote = '') {
  const dt = el('dt', { html: label });
  const out = el('output', { 'data-readout': name });
  const dd = el('dd', {}, out);
  if (unitNote) dd.append(el('span', { class: 'unit', text: unitNote }));
  parent.append(el('div', { class: 'readout' }, dt, dd));
  return {
    set(value, text) {
      const v = String(value);
      if (out.dataset.value !== v) out.dataset.value = v;
      if (out.textContent !== text) out.textContent = text;
    },
  };
}

// Set a node's markup only when it changed: a λ step rewrites many captions, most of
// them to what they already say, and each rewrite costs style and layout.
export function setHtml(node, html) {
  if (node.lastHtml === html) return;
  node.lastHtml = html;
  node.innerHTML = html;
}

export const fmt = {
  pct: (v) => `${(100 * v).toFixed(2)} %`,
  num: (v, digits = 3) => (Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(digits)).replace('-', '−'),
  deg: (v) => `${v.toFixed(1)}°`,
  signed: (v) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toPrecision(3)}`,
};

// A weight decay as a reader writes it: 10⁻⁴, 0.3, 30.
const SUPERSCRIPT = { '-': '⁻', 0: '⁰', 1: '¹', 2: '²', 3: '³', 4: '⁴', 5: '⁵', 6: '⁶', 7: '⁷', 8: '⁸', 9: '⁹' };
export function fmtWeightDecay(weightDecay) {
  const power = Math.log10(weightDecay);
  if (Math.abs(power - Math.round(power)) < 1e-9 && (power <= -3 || power >= 4)) {
    return `10${String(Math.round(power)).replace(/./g, (c) => SUPERSCRIPT[c])}`;
  }
  return String(Number(weightDecay.toPrecision(3)));
}

export function showError(container, err) {
  console.info(err); // eslint-disable-line no-console
  const box = el('p', { class: 'figure-error', role: 'alert', text: `This figure could not load its data: ${err.message}` });
  container.prepend(box);
}

// "Embed this figure": the <iframe> snippet for the current state, with a copy button.
// The address carries only this figure's own URL keys (state.js's table), and the snippet ends
// with a few lines of script that let the <iframe> grow to the height the embedded page
// posts (a host that strips scripts still gets the height measured here, as a start).
export function embedSnippet(parent, figure, store, title) {
  const details = el('details', { class: 'embed-snippet' });
  const summary = el('summary', { text: 'Embed this figure' });
  const area = el('textarea', { readonly: '', rows: '6', 'aria-label': `HTML to embed the ${title} figure` });
  const button = el('button', { type: 'button', text: 'Copy' });
  const status = el('span', { class: 'copy-status', role: 'status' });
  details.append(summary, area, el('div', { class: 'snippet-actions' }, button, status));
  parent.append(details);
  const render = () => {
    area.value = embedCode(figure, title, toSearch(store.get(), { figure }), embedHeight(parent));
  };
  render();
  let timer = null;
  store.subscribe(() => { clearTimeout(timer); timer = setTimeout(render, 300); });
  details.addEventListener('toggle', render);
  button.addEventListener('click', async () => {
    render();
    try {
      await navigator.clipboard.writeText(area.value);
      status.textContent = 'Copied.';
    } catch {
      area.select();
      status.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
    }
  });
  return details;
}

// The figure's height as an embed shows it: the figure itself plus the embed page's
// title and credit lines (about 80 px), so the iframe starts close to its final size.
function embedHeight(figureNode) {
  const mount = figureNode.querySelector?.('.figure-mount') ?? figureNode;
  const h = Math.ceil(mount.getBoundingClientRect().height);
  return Math.max(320, h + 90);
}

export function embedCode(figure, title, search, height) {
  // ".html" so the snippet also works on a plain static host (tilting export). The "&"s of
  // the address stay bare: followed by "=" or a letter, HTML leaves them alone in attributes.
  const url = new URL(`embed/${figure}.html${search}`, ROOT);
  const safeTitle = title.replace(/[&"<>]/g, (c) => ({ '&': '&amp;', '"': '&quot;', '<': '&lt;', '>': '&gt;' })[c]);
  return `<iframe src="${url.href}" title="${safeTitle}" data-tilting-embed loading="lazy" style="display:block;width:100%;border:0;height:${height}px"></iframe>
<script>/* Boundary Tilting: grow the iframe to the figure's height */
addEventListener("message", function (e) {
  if (e.origin !== ${JSON.stringify(url.origin)} || !e.data || e.data.type !== "tilting-embed-height") return;
  document.querySelectorAll("iframe[data-tilting-embed]").forEach(function (f) {
    if (f.contentWindow === e.source) f.style.height = Math.ceil(e.data.height) + "px";
  });
});
</script>`;
}

// Plotly's responsive config, shared by every plot. WebGL plots (the 3-D figure) render at
// the screen's own pixel ratio: Plotly's default (2) quadruples the pixels on a 1× screen,
// and with them the cost of every redraw where WebGL is software-rendered.
export const PLOT_CONFIG = {
  responsive: true, displayModeBar: false, scrollZoom: false,
  plotGlPixelRatio: Math.min(2, Math.max(1, window.devicePixelRatio || 1)),
};

export const COLOURS = { I: '#2166ac', J: '#d6602a', ink: '#222', band: 'rgba(120,120,120,0.16)', grid: '#e6e6e6' };

export function plotFont() {
  return { family: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif', size: 12, color: '#333' };
}
