// The figure registry and the code shared by the article and the embed pages:
// loading plotly.js once, mounting a figure, timing when it became interactive.
import * as adapter from './plotly-adapter.js'; // first: its canvas defaults precede plotly.js
import { ROOT } from './data.js';
import { pageState, fieldsOf } from './state.js';
import { embedSnippet, showError } from './ui.js';

// Each figure's title and module. Its URL keys (what its embed snippet carries) are the
// rows of state.js's table that name it.
export const FIGURES = {
  teaser: { title: 'The tilting plane', plotly: true, module: () => import('./fig-teaser.js') },
  linear: { title: 'Linear classifiers too', plotly: false, module: () => import('./fig-linear.js') },
  explorer: { title: 'The regularization explorer', plotly: true, module: () => import('./fig-explorer.js') },
  network: { title: 'Adversarial examples of a small network', plotly: false, module: () => import('./fig-network.js') },
  toy: { title: 'The toy problem: dimension versus tilt', plotly: true, module: () => import('./fig-toy.js') },
  tilt3d: { title: 'The tilt in 3-D', plotly: true, module: () => import('./fig-tilt3d.js') },
  loss: { title: 'Scaling the loss', plotly: false, module: () => import('./fig-loss.js') },
  'network-curves': { title: 'Training curves across weight decay', plotly: true, module: () => import('./fig-network-curves.js') },
  'network-filters': { title: 'What the network learned: filters and RMS weights', plotly: true, module: () => import('./fig-network-filters.js') },
  'network-tilt': { title: 'The local tilt of a network against weight decay', plotly: true, module: () => import('./fig-network-tilt.js') },
  'network-ce': { title: 'Cross-entropy and weight decay', plotly: true, module: () => import('./fig-network-ce.js') },
};

let plotlyPromise = null;
export function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotlyPromise) {
    plotlyPromise = new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = new URL('vendor/plotly.min.js', ROOT).href;
      script.onload = () => resolve(adapter.checkPlotly(window.Plotly));
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
      parking.get(container)?.watch();
      if (snippet) embedSnippet(container.closest('figure') ?? container, name, page.store, spec.title);
      if (spec.plotly) keepSnapshot(container);
    })
    .catch((err) => { // its code or plotly.js did not load: say so where the figure would be
      container.removeAttribute('aria-busy');
      showError(container, err);
    });
  return page.figures[name];
}

// Printing. Plotly's WebGL plots print blank (and the 3-D figure exists only while it is on
// screen), and a plot laid out for the screen's width is cut off on paper. So each plot
// keeps a picture of itself (an <img class="print-snapshot"> right after it, hidden on
// screen, shown instead of the plot by print.css), redrawn by plotly's own image export once
// the reader has stopped interacting with the figure for SETTLE_MS, when the browser is
// idle. A print started from the browser's menu cannot be waited for (`beforeprint` only
// refreshes what it can), so it must find every picture made already: figures the reader
// has not scrolled to are mounted in the background once the page is quiet (warmUp below).
// Ctrl+P / ⌘P waits for every figure to be mounted and pictured
// (window.__tilting.preparePrint() is the same step).
const SETTLE_MS = 1000;
// Two frames, so ResizeObserver has reported; no longer than 100 ms (a hidden tab has no frames).
const nextFrame = () => new Promise((resolve) => {
  requestAnimationFrame(() => requestAnimationFrame(resolve));
  setTimeout(resolve, 100);
});
const whenIdle = (fn) => (window.requestIdleCallback ? requestIdleCallback(fn, { timeout: 2000 }) : setTimeout(fn, 0));

// A picture of one plot. WebGL plots (the 3-D one) are exported as PNG at twice their size
// (plotly renders them anew off screen: the costly part); the others as SVG (vector on
// paper, and a few times cheaper). A canvas a figure lays over its plot (the plane's points,
// boundary, band, arrows, chosen images) is painted over plotly's picture, and that
// picture is encoded off the main thread (toBlob).
const pictureUrls = new WeakMap();

async function snapshot(Plotly, gd) {
  if (!(await adapter.settled(gd))) return false;
  const size = adapter.plotSize(gd);
  const width = Math.max(1, Math.round(size.width));
  const height = Math.max(1, Math.round(size.height));
  const gl = adapter.hasWebGL(gd);
  // A canvas that paints itself anew for a picture (c.pictureAt: the whole plot, at the
  // picture's scale) does so even while the plot is hidden, as it is under print media;
  // another is copied as it is on screen, if it is shown.
  const overlays = [...gd.querySelectorAll(':scope > canvas')].filter((c) => c.pictureAt || (c.width && c.height && c.getClientRects().length));
  // A picture with a canvas over it is a bitmap anyway: at twice its size, so paper is sharp.
  const scale = gl || overlays.length ? 2 : 1;
  let url = await Plotly.toImage(gd, { format: gl ? 'png' : 'svg', width, height, scale });
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
      if (c.pictureAt) {
        const painted = c.pictureAt(scale); // null before the plot is laid out
        if (painted) ctx.drawImage(painted, 0, 0);
        continue;
      }
      const r = c.getBoundingClientRect();
      ctx.drawImage(c, (r.left - origin.left) * scale, (r.top - origin.top) * scale, r.width * scale, r.height * scale);
    }
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
    url = URL.createObjectURL(blob);
  }
  let img = gd.nextElementSibling;
  if (!img?.classList.contains('print-snapshot')) {
    img = document.createElement('img');
    img.className = 'print-snapshot';
    img.hidden = true; // print.css shows it on paper only
    gd.after(img);
  }
  img.alt = gd.getAttribute('aria-label') || 'A plot of this figure';
  img.dataset.overlays = String(overlays.length); // what was painted over plotly's picture (tests)
  img.src = url;
  await img.decode().catch(() => {});
  if (pictureUrls.has(img)) URL.revokeObjectURL(pictureUrls.get(img));
  if (url.startsWith('blob:')) pictureUrls.set(img, url); else pictureUrls.delete(img);
  return true;
}

// Per mounted plotly figure: is its picture out of date, is a new one being made.
const pictured = new Map();

async function refreshSnapshot(container) {
  const entry = pictured.get(container);
  if (!entry || entry.running) return entry?.running;
  entry.running = (async () => {
    entry.dirty = false;
    clearTimeout(entry.timer); // this one shows the latest state
    const Plotly = await loadPlotly();
    container.catchUp?.(); // a figure off screen skipped the λ steps (ui.js follow): it takes the latest now
    const t0 = performance.now();
    let drawn = 0;
    // A parked figure (below) is laid out again while its picture is made; a figure that
    // draws only near the screen (the 3-D one) draws for its picture, then lets go.
    const unpark = parking.get(container)?.hold();
    const release = await container.drawForPicture?.();
    const plots = [...container.querySelectorAll('.js-plotly-plot')];
    try {
      for (const gd of plots) {
        try { if (await snapshot(Plotly, gd)) drawn += 1; } catch (err) { console.info(err); } // eslint-disable-line no-console
      }
    } finally { release?.(); unpark?.(); }
    // How long a picture took (main thread and GPU together), for the benchmark.
    if (drawn) {
      container.dataset.snapshotMs = String(Math.round(performance.now() - t0));
      container.dataset.snapshots = String(Number(container.dataset.snapshots || 0) + 1);
    }
    await nextFrame(); // the size the figure is left with is observed while this one still runs
  })().finally(() => { entry.running = null; if (entry.dirty) entry.schedule(); });
  return entry.running;
}

function keepSnapshot(container) {
  if (pictured.has(container)) return;
  const entry = { dirty: true, timer: null, running: null };
  pictured.set(container, entry);
  entry.schedule = () => {
    entry.dirty = true;
    clearTimeout(entry.timer);
    // Unless a picture made meanwhile (preparePrint's) has shown the latest state.
    entry.timer = setTimeout(() => whenIdle(() => { if (entry.dirty) refreshSnapshot(container); }), SETTLE_MS);
  };
  // Anything that can change what the figure shows: the shared state it follows, the
  // reader's input inside it (its own sliders, drags of a 3-D view), its size.
  const fields = fieldsOf(container.dataset.figure);
  pageState().store.subscribe((state, changed) => { if (changed.some((f) => fields.includes(f))) entry.schedule(); });
  for (const type of ['input', 'change', 'pointerup', 'keyup', 'wheel']) container.addEventListener(type, entry.schedule, { passive: true });
  // Its size on screen, not on paper: print media hides the plots and shows their pictures,
  // which must not be redrawn (and so revoked) while they are printed, nor after. Nor does
  // the making of a picture count: a figure built for it (the 3-D one) grows taller, then
  // shrinks back; a new width while a picture is made (the window's) still does.
  let seen = null;
  new ResizeObserver(([{ contentRect: { width, height } }]) => {
    if ((width === seen?.width && height === seen?.height) || window.matchMedia('print').matches) return;
    const wider = width !== seen?.width;
    seen = { width, height };
    if (wider || !entry.running) entry.schedule(); // the first call, on observe, makes the first picture
  }).observe(container);
}

// Mounting the figures the reader has not reached, so that their print pictures exist
// before a print from the browser's menu. It waits until the page has been left alone
// (no pointer, key, slider, wheel, touch or scroll event) for QUIET_MS, then mounts the
// next figure in page order when the browser is idle, and waits again; so it never
// competes with a reader who is scrolling or dragging, and never delays the first view.
// A reader who asked the browser to save data gets none of it (their paper says which
// figure is missing, print.css). The log (window.__tilting.warmUp) is for tests and the
// benchmark.
const QUIET_MS = 3000;

function warmUp(containers, mount) {
  const log = { quietMs: QUIET_MS, started: null, done: null, mounted: [] };
  pageState().warmUp = log;
  if (navigator.connection?.saveData) { log.skipped = 'save-data'; return; }
  let lastInput = performance.now();
  const onInput = () => { lastInput = performance.now(); };
  const activity = ['pointerdown', 'pointermove', 'keydown', 'input', 'wheel', 'touchstart', 'scroll'];
  for (const type of activity) window.addEventListener(type, onInput, { capture: true, passive: true });
  const quiet = () => new Promise((resolve) => {
    const check = () => {
      const wait = lastInput + QUIET_MS - performance.now();
      if (wait > 0) setTimeout(check, wait + 10);
      else whenIdle(() => (performance.now() - lastInput < QUIET_MS ? check() : resolve()));
    };
    check();
  });
  (async () => {
    for (const c of containers) {
      if (pageState().figures[c.dataset.figure]) continue; // the reader got there first
      await quiet();
      if (pageState().figures[c.dataset.figure]) continue;
      log.started ??= performance.now();
      log.mounted.push({ figure: c.dataset.figure, at: performance.now() });
      await mount(c);
    }
    log.done = performance.now();
    for (const type of activity) window.removeEventListener(type, onInput, { capture: true });
  })();
}

// Parking. A mounted figure far from the screen (over a screen's height away) gets
// content-visibility: auto at the height it had (class "parked", article.css): the browser
// skips its subtree when it lays out, paints and composites the page, so a λ step costs about
// the same with every figure mounted as with only the ones near (benchmarks/RESULTS.md).
// Its state follows the store as before (a figure off screen catches up when it comes
// back, ui.js), it is unparked before it comes into view, and paper shows every figure
// (print.css). The 3-D figure builds only within 300 px: inside the screen-height margin.
const parking = new Map(); // container -> { far, holds, hold() }
const PARK_MARGIN = '100% 0px';

function park(container, far) {
  const entry = parking.get(container);
  entry.far = far;
  const parked = far && entry.holds === 0;
  if (parked && !container.classList.contains('parked')) {
    container.style.containIntrinsicHeight = `${container.getBoundingClientRect().height}px`;
    container.classList.add('parked');
  } else if (!parked && container.classList.contains('parked')) {
    container.classList.remove('parked');
    container.style.containIntrinsicHeight = '';
  }
}

// Each container is watched once its figure is mounted (mountFigure): a figure lays itself
// out, and measures, unparked.
function parkFarFigures(containers) {
  if (!('IntersectionObserver' in window)) return;
  const observer = new IntersectionObserver((entries) => {
    for (const { target, isIntersecting } of entries) park(target, !isIntersecting);
  }, { rootMargin: PARK_MARGIN });
  for (const c of containers) {
    const entry = { far: false, holds: 0, watch: () => observer.observe(c) };
    entry.hold = () => {
      entry.holds += 1;
      park(c, entry.far);
      return () => { entry.holds -= 1; park(c, entry.far); };
    };
    parking.set(c, entry);
  }
}

export function installPrint(containers, { opening = Promise.resolve() } = {}) {
  const page = pageState();
  const mount = (c) => mountFigure(c.dataset.figure, c);
  let preparing = null;
  const prepare = () => {
    preparing ??= (async () => {
      await Promise.all(containers.map(mount));
      for (const c of containers) {
        if (!pictured.has(c)) continue;
        pictured.get(c).dirty = true;
        await refreshSnapshot(c);
        if (pictured.get(c).dirty) await refreshSnapshot(c); // one already running drew an earlier state
      }
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
  // From the browser's menu: the pictures kept up to date are printed; the ones out of date
  // are redrawn as far as the time the browser gives allows.
  window.addEventListener('beforeprint', () => {
    for (const [c, entry] of pictured) if (entry.dirty) refreshSnapshot(c);
  });
  parkFarFigures(containers);
  opening.then(() => warmUp(containers, mount));
}
