// The figure registry and the code shared by the article and the embed pages:
// loading plotly.js once, mounting a figure, timing when it became interactive.
import './contexts.js'; // before plotly.js creates any canvas context
import { ROOT } from './data.js';
import { createStore, readUrl } from './state.js';
import { embedSnippet, showError } from './ui.js';

export const FIGURES = {
  teaser: { title: 'The tilting plane', plotly: true, module: () => import('./fig-teaser.js') },
  linear: { title: 'Linear classifiers too', plotly: false, module: () => import('./fig-linear.js') },
  explorer: { title: 'The regularization explorer', plotly: true, module: () => import('./fig-explorer.js') },
  network: { title: 'Adversarial examples of a small network', plotly: false, module: () => import('./fig-network.js') },
  toy: { title: 'The toy problem: dimension versus tilt', plotly: true, module: () => import('./fig-toy.js') },
  tilt3d: { title: 'The tilt in 3-D', plotly: true, module: () => import('./fig-tilt3d.js') },
  loss: { title: 'Scaling the loss', plotly: false, module: () => import('./fig-loss.js') },
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

// One store per page; tests and the benchmark reach it through window.__tilting.
export function pageState() {
  if (!window.__tilting) {
    window.__tilting = { store: createStore(readUrl()), figures: {}, readyAt: {} };
  }
  return window.__tilting;
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
      if (snippet) embedSnippet(container.closest('figure') ?? container, name, page.store, spec.title);
    })
    .catch((err) => { // its code or plotly.js did not load: say so where the figure would be
      container.removeAttribute('aria-busy');
      showError(container, err);
    });
  return page.figures[name];
}
