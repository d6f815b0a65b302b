// The figure registry and the code shared by the article and the embed pages:
// loading plotly.js once, mounting a figure, timing when it became interactive.
import './contexts.js'; // before plotly.js creates any canvas context
import { ROOT } from './data.js';
import { pageState } from './state.js';
import { embedSnippet, showError } from './ui.js';

// Each figure's title, and `keys`: the URL parameters that are its own state (an embed
// snippet carries those and no others).
export const FIGURES = {
  teaser: { title: 'The tilting plane', plotly: true, keys: ['pair', 'lambda'], module: () => import('./fig-teaser.js') },
  linear: { title: 'Linear classifiers too', plotly: false, keys: ['pair', 'lambda', 'g'], module: () => import('./fig-linear.js') },
  explorer: { title: 'The regularization explorer', plotly: true, keys: ['pair', 'lambda', 'x', 'y', 'test'], module: () => import('./fig-explorer.js') },
  network: { title: 'Adversarial examples of a small network', plotly: false, keys: ['net', 'view', 'cell'], module: () => import('./fig-network.js') },
  toy: { title: 'The toy problem: dimension versus tilt', plotly: true, keys: ['da', 'ta', 'db', 'tb', 'toylam'], module: () => import('./fig-toy.js') },
  tilt3d: { title: 'The tilt in 3-D', plotly: true, keys: ['pair', 'ls', 'lw', 'rot'], module: () => import('./fig-tilt3d.js') },
  loss: { title: 'Scaling the loss', plotly: false, keys: ['pair', 'lambda', 'wnorm'], module: () => import('./fig-loss.js') },
};

let plotlyPromise = null;
export function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotlyPromise) {
    plotlyPromise = new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = new URL('vendor/plotly.min.js', ROOT).href;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => reject(new Error('plotly.js could not be loaded'));
      document.head.append(script);
    });
  }
  return plotlyPromise;
}

export function mountFigure(name, container, { snippet = true } = {}) {
  const page = pageState();
  const spec = FIGURES[name];
  if (!spec) throw new Error(`Unknown figure ${name}`);
  if (page.figures[name]) return page.figures[name];
  container.setAttribute('aria-busy', 'true');
  // Data, code and plotly.js load in parallel; the figure waits for all three.
  const plotly = spec.plotly ? loadPlotly() : null;
  page.figures[name] = spec.module()
    .then((mod) => mod.mount(container, page.store, plotly))
    .then(() => {
      container.removeAttribute('aria-busy');
      page.readyAt[name] = performance.now();
      if (snippet) embedSnippet(container.closest('figure') ?? container, name, page.store, spec.title, spec.keys);
    })
    .catch((err) => { // its code or plotly.js did not load: say so where the figure would be
      container.removeAttribute('aria-busy');
      showError(container, err);
    });
  return page.figures[name];
}

// Printing. Plotly's WebGL plots print blank (and the 3-D figure exists only while it is on
// screen), and a plot laid out for the screen's width is cut off on paper. So before
// printing every figure is mounted and each plot is replaced, on paper only, by a picture
// that plotly renders of it (print.css shows the pictures and hides the live plots).
// Ctrl+P / ⌘P waits for the pictures (window.__tilting.preparePrint() is the same step);
// a print started from the browser's menu cannot wait, and gets what is ready by then.
const twoFrames = () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));

async function snapshot(Plotly, gd) {
  if (!gd.data || !gd._fullLayout) return;
  const width = Math.max(1, Math.round(gd._fullLayout.width || gd.clientWidth));
  const height = Math.max(1, Math.round(gd._fullLayout.height || gd.clientHeight));
  const scale = 2;
  let url = await Plotly.toImage(gd, { format: 'png', width, height, scale });
  // What a figure draws on top of plotly's own (a canvas laid over the plot: boundary,
  // band, arrows, chosen images) is not in plotly's picture: it is painted over it here.
  const overlays = [...gd.querySelectorAll(':scope > canvas')].filter((c) => c.width && c.height && c.getClientRects().length);
  if (overlays.length) {
    const base = new Image();
    base.src = url;
    await base.decode();
    const canvas = document.createElement('canvas');
    canvas.width = width * scale; canvas.height = height * scale;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(base, 0, 0, canvas.width, canvas.height);
    const origin = gd.getBoundingClientRect();
    for (const c of overlays) {
      const r = c.getBoundingClientRect();
      ctx.drawImage(c, (r.left - origin.left) * scale, (r.top - origin.top) * scale, r.width * scale, r.height * scale);
    }
    url = canvas.toDataURL('image/png');
  }
  let img = gd.nextElementSibling;
  if (!img?.classList.contains('print-snapshot')) {
    img = document.createElement('img');
    img.className = 'print-snapshot';
    img.hidden = true; // print.css shows it on paper only
    gd.after(img);
  }
  img.alt = gd.getAttribute('aria-label') || 'A plot of this figure';
  img.src = url;
  await img.decode().catch(() => {});
}

export function installPrint(containers) {
  const page = pageState();
  const mount = (c) => mountFigure(c.dataset.figure, c);
  let preparing = null;
  const prepare = ({ scroll = true } = {}) => {
    preparing ??= (async () => {
      const y = window.scrollY;
      await Promise.all(containers.map(mount));
      if (!containers.some((c) => FIGURES[c.dataset.figure]?.plotly)) return;
      const Plotly = await loadPlotly();
      for (const c of containers) {
        if (scroll) { // a figure that draws only on screen (the 3-D one) is brought there
          c.scrollIntoView({ block: 'center' });
          await twoFrames();
          const deadline = performance.now() + 3000;
          while ([...c.querySelectorAll('.js-plotly-plot')].some((gd) => !gd._fullLayout) && performance.now() < deadline) await twoFrames();
        }
        for (const gd of c.querySelectorAll('.js-plotly-plot')) {
          try { await snapshot(Plotly, gd); } catch (err) { console.info(err); } // eslint-disable-line no-console
        }
      }
      if (scroll) window.scrollTo(0, y);
      document.documentElement.classList.add('print-ready');
    })().finally(() => { preparing = null; });
    return preparing;
  };
  page.preparePrint = prepare;
  window.addEventListener('keydown', (ev) => {
    if ((ev.ctrlKey || ev.metaKey) && !ev.altKey && !ev.shiftKey && ev.key.toLowerCase() === 'p') {
      ev.preventDefault();
      prepare().then(() => window.print());
    }
  });
  window.addEventListener('beforeprint', () => {
    if (!document.documentElement.classList.contains('print-ready')) prepare({ scroll: false });
  });
  // The pictures are of the figures as they were when printed; afterwards they go.
  window.addEventListener('afterprint', () => {
    document.querySelectorAll('img.print-snapshot').forEach((img) => img.remove());
    document.documentElement.classList.remove('print-ready');
  });
}
