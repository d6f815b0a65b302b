// Every access to plotly.js internals, in one place. The page uses plotly's public API
// (react, relayout, restyle, toImage, purge, events) everywhere else; what plotly does not
// offer publicly is done here, checked against the version it was verified with:
//   * the axes' pixel mapping (gd._fullLayout.xaxis._offset, _length, l2p), for overlays
//     drawn on a canvas over a plot;
//   * a default of the 2-D canvas contexts plotly creates (HTMLCanvasElement.getContext).
// When an internal is missing (another plotly.js), the page still works: the overlays are
// not drawn, and it says so once, loudly: console.warn and
// <html data-plotly-adapter="fallback">. A plotly.js of another major version than the one
// verified sets data-plotly-adapter="unverified" and warns too.
//
// For tests: window.__tilting.plotlyStats(gd) -> { full } counts the full redraws
// (Plotly.react through this module) of one plot; plotlyAdapter() ->
// { version, verified, fallbacks }.

// plotly.js as shipped by the Python plotly package pinned in pyproject.toml (7.1: plotly.js 4.1.1).
export const VERIFIED_PLOTLY_MAJOR = 4;
export const VERIFIED_PLOTLY = '4.1.1';

const stats = new WeakMap();
const status = { version: null, verified: null, fallbacks: [] };
const statsOf = (gd) => {
  if (!stats.has(gd)) stats.set(gd, { full: 0 });
  return stats.get(gd);
};

function exposeForTests() {
  window.__tilting ??= { figures: {}, readyAt: {} };
  window.__tilting.plotlyStats = (gd) => ({ ...statsOf(typeof gd === 'string' ? document.querySelector(gd) : gd) });
  window.__tilting.plotlyAdapter = () => ({ ...status, fallbacks: [...status.fallbacks] });
}

function fallBack(what) {
  if (status.fallbacks.includes(what)) return;
  status.fallbacks.push(what);
  document.documentElement.dataset.plotlyAdapter = 'fallback';
  // eslint-disable-next-line no-console
  console.warn(`plotly.js ${status.version ?? '?'}: ${what} is missing (verified with plotly.js ${VERIFIED_PLOTLY}); what is drawn over the plot is left out.`);
}

// Called once plotly.js has loaded.
export function checkPlotly(Plotly) {
  status.version = Plotly?.version ?? null;
  status.verified = Number.parseInt(status.version, 10) === VERIFIED_PLOTLY_MAJOR;
  if (!status.verified) {
    document.documentElement.dataset.plotlyAdapter = 'unverified';
    // eslint-disable-next-line no-console
    console.warn(`plotly.js ${status.version} is not the version this page was verified with (${VERIFIED_PLOTLY}); what is drawn over its plots may be left out.`);
  } else if (!document.documentElement.dataset.plotlyAdapter) {
    document.documentElement.dataset.plotlyAdapter = 'verified';
  }
  return Plotly;
}

// Has plotly laid the plot out (and not purged it)?
export const isDrawn = (gd) => Boolean(gd?._fullLayout?.xaxis || gd?._fullLayout?.scene);

// Does the plot draw with WebGL (scattergl, 3-D)? Such a plot prints blank.
export const hasWebGL = (gd) => Boolean(gd.querySelector('canvas.gl-canvas, .gl-container canvas'));

// The plot's size in CSS pixels as plotly laid it out.
export function plotSize(gd) {
  const full = gd._fullLayout;
  return { width: full?.width || gd.clientWidth, height: full?.height || gd.clientHeight };
}

// The mapping of one pair of axes ('' for x/y, '2' for x2/y2, …) to the plot div's CSS
// pixels, or null before the first layout.
export function plotArea(gd, suffix = '') {
  const full = gd._fullLayout;
  const xa = full?.[`xaxis${suffix}`]; const ya = full?.[`yaxis${suffix}`];
  if (!xa || !ya) return null;
  if (typeof xa.l2p !== 'function' || typeof ya.l2p !== 'function' || !Number.isFinite(xa._offset)) {
    fallBack('the axes\' pixel mapping (_fullLayout.xaxis.l2p, _offset)');
    return null;
  }
  return {
    width: full.width, height: full.height,
    x: { offset: xa._offset, length: xa._length, toPixel: (v) => xa._offset + xa.l2p(v), toOffset: (v) => xa.l2p(v) },
    y: { offset: ya._offset, length: ya._length, toPixel: (v) => ya._offset + ya.l2p(v), toOffset: (v) => ya.l2p(v) },
  };
}

// A full draw (Plotly.react), counted. Its promise is kept, so that a picture of the plot
// waits for the draw under way (plotly lays the axes out before the drawing ends).
const drawing = new WeakMap();
export function react(gd, traces, layout, config) {
  statsOf(gd).full += 1;
  const done = window.Plotly.react(gd, traces, layout, config);
  drawing.set(gd, done);
  return done;
}

// Is the plot drawn, once its latest full draw and what its figure draws over it after
// that draw (a task later) are done?
export async function settled(gd) {
  await drawing.get(gd)?.catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 0));
  return isDrawn(gd);
}

// A default of the 2-D canvas contexts plotly.js asks for, changed where it offers no option
// (installed once, before plotly.js loads: figures.js imports this module first). The 3-D
// plot measures its fonts by drawing text off-page and reading the pixels back
// (getImageData, many times). Declaring willReadFrequently keeps those canvases in memory
// the CPU reads fast, and Chromium stops warning about it in the console.
function installCanvasDefaults() {
  const proto = HTMLCanvasElement.prototype;
  if (proto.getContext.tiltingDefaults) return;
  const nativeGetContext = proto.getContext;
  function getContext(type, attributes, ...rest) {
    const wanted = type === '2d' && !this.isConnected ? { willReadFrequently: true, ...attributes } : attributes;
    return nativeGetContext.call(this, type, wanted, ...rest);
  }
  getContext.tiltingDefaults = true;
  proto.getContext = getContext;
}

installCanvasDefaults();
exposeForTests();
