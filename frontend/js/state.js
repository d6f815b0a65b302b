// The page's state and its URL: one table of keys, one reader, one writer, one timer
// (the pattern of TensorFlow Playground's state.ts, written for this page).
//
// Every piece of state a link reproduces is one row of the table:
//   key      the URL parameter. Kept as it is: links people have shared must keep working.
//   field    the store's name for it (the code's vocabulary: log10Lambda, never alpha/p/lam).
//   figures  the figures that own it: an embed snippet carries its figure's keys and no others.
//   default  the value when the URL has none (undefined: the figure chooses its own default).
//   parse    (text) => value, or undefined for text it refuses (the key is then ignored).
//   format   (value) => text, what the URL shows.
//   legacy   optional { oldKey: parse }: read when `key` is absent (old links).
//
// | key        | field                 | figures                           | what                          |
// |------------|-----------------------|-----------------------------------|-------------------------------|
// | experiment | experiment            | teaser linear explorer tilt3d loss | API experiment id, mnist-2-3  |
// |  (pair)    |   legacy: pair=2-3 → mnist-2-3                                                          |
// | lambda     | log10Lambda           | teaser linear explorer loss       | log10 λ of the shown model    |
// | x, y       | x, y                  | explorer                          | gallery index or drawing code |
// | g          | g                     | linear                            | gallery index                 |
// | test       | test                  | explorer                          | show test points (1)          |
// | da, db     | toyDimensionA/B       | toy                               | panel dimensions              |
// | ta, tb     | toyTiltA/B            | toy                               | panel tilts (degrees)         |
// | toylam     | toyLog10Lambda        | toy                               | trained toy's log10 λ         |
// | ls, lw     | tiltStrong/WeakLog10Lambda | tilt3d                       | the two models' log10 λ       |
// | rot        | tiltRotation          | tilt3d                            | camera position, 0…1          |
// | wnorm      | lossLog10WNorm        | loss                              | log10 ‖w‖ used for the losses |
// | net        | networkModel          | network, network-*                | index into the weight-decay sweep |
// | view, cell, proto | networkView, networkCell, networkProtocol | network | the attack grid's choices |
// | ceweight   | networkCeWeight       | network-ce                        | what the bars measure         |
//
// Adding state: call defineKeys([{ key, field, figures: ['name'], parse, format }]) when the
// figure's module loads (a row whose key is already in the table replaces it), or add a row
// below. Then store.set({ [field]: value }) updates every listener at once and writes the URL
// once the reader pauses; store.get()[field] holds what the URL asked for at load. Keys the
// table does not know are left in the URL as they are.
import { listExperiments, chooseExperiment, digitsOf, pairOf, DEFAULT_EXPERIMENT } from './data.js';

export { DEFAULT_EXPERIMENT };
// The log10 λ the λ figures open on when the URL names none.
export const DEFAULT_LOG10_LAMBDA = -3;

// Parsers and formatters for the table's rows.
export const types = {
  number: (lo, hi, digits = 2) => ({
    parse: (s) => { const v = Number(s); return s !== '' && Number.isFinite(v) && v >= lo && v <= hi ? v : undefined; },
    format: (v) => String(Number(Number(v).toFixed(digits))),
  }),
  // Fixed decimals in the URL (links read "rot=0.40", "lw=-5.0").
  fixed: (lo, hi, digits) => ({
    parse: (s) => { const v = Number(s); return s !== '' && Number.isFinite(v) && v >= lo && v <= hi ? v : undefined; },
    format: (v) => Number(v).toFixed(digits),
  }),
  int: (lo, hi) => ({
    parse: (s) => { const v = Number.parseInt(s, 10); return /^-?\d+$/.test(s) && v >= lo && v <= hi ? v : undefined; },
    format: (v) => String(v),
  }),
  oneOf: (...values) => ({ parse: (s) => (values.includes(s) ? s : undefined), format: String }),
  matching: (re) => ({ parse: (s) => (re.test(s) ? s : undefined), format: String }),
  flag: { parse: (s) => (s === '1' ? true : undefined), format: () => '1' },
};

// An experiment id as the API names them: mnist-2-3, mnist-4-9-all, digits8x8-2-3.
const EXPERIMENT_ID = /^[a-z][a-z0-9]*(-[a-z0-9]+){2,3}$/;
// Old links: pair=2-3 meant the MNIST experiment of those digits.
const legacyPair = (s) => (/^\d-\d$/.test(s) ? `mnist-${s}` : undefined);
// A gallery index, or a drawing in the URL (d + base64url, see encodeDrawing).
const IMAGE = types.matching(/^(\d{1,3}|d[A-Za-z0-9_-]+)$/);
const LAMBDA_FIGURES = ['teaser', 'linear', 'explorer', 'loss'];
// Every network figure follows one weight-decay choice, `net` (an index into the sweep).
export const NETWORK_FIGURES = ['network', 'network-curves', 'network-filters', 'network-tilt', 'network-ce'];

const TABLE = new Map();

export function defineKeys(rows) {
  for (const row of rows) {
    if (!row.key || !row.field || !Array.isArray(row.figures) || typeof row.parse !== 'function') {
      throw new Error(`URL key ${row.key ?? '?'}: a row needs key, field, figures and parse`);
    }
    TABLE.set(row.key, { format: String, legacy: {}, ...row });
  }
}

defineKeys([
  { key: 'experiment', field: 'experiment', figures: ['teaser', 'linear', 'explorer', 'tilt3d', 'loss'], default: DEFAULT_EXPERIMENT,
    ...types.matching(EXPERIMENT_ID), legacy: { pair: legacyPair } },
  { key: 'lambda', field: 'log10Lambda', figures: LAMBDA_FIGURES, ...types.number(-20, 20) },
  { key: 'x', field: 'x', figures: ['explorer'], ...IMAGE },
  { key: 'y', field: 'y', figures: ['explorer'], ...IMAGE },
  { key: 'g', field: 'g', figures: ['linear'], ...IMAGE },
  { key: 'test', field: 'test', figures: ['explorer'], ...types.flag },
  { key: 'da', field: 'toyDimensionA', figures: ['toy'], ...types.int(2, 5000) },
  { key: 'ta', field: 'toyTiltA', figures: ['toy'], ...types.number(0, 90, 3) },
  { key: 'db', field: 'toyDimensionB', figures: ['toy'], ...types.int(2, 5000) },
  { key: 'tb', field: 'toyTiltB', figures: ['toy'], ...types.number(0, 90, 3) },
  { key: 'toylam', field: 'toyLog10Lambda', figures: ['toy'], ...types.fixed(-20, 20, 1) },
  { key: 'ls', field: 'tiltStrongLog10Lambda', figures: ['tilt3d'], ...types.fixed(-20, 20, 1) },
  { key: 'lw', field: 'tiltWeakLog10Lambda', figures: ['tilt3d'], ...types.fixed(-20, 20, 1) },
  { key: 'rot', field: 'tiltRotation', figures: ['tilt3d'], ...types.fixed(0, 1, 2) },
  { key: 'wnorm', field: 'lossLog10WNorm', figures: ['loss'], ...types.fixed(-6, 6, 2) },
  { key: 'net', field: 'networkModel', figures: NETWORK_FIGURES, ...types.int(0, 999) },
  { key: 'view', field: 'networkView', figures: ['network'], ...types.oneOf('adv', 'pert') },
  { key: 'cell', field: 'networkCell', figures: ['network'], ...types.matching(/^\d-\d$/) },
  { key: 'proto', field: 'networkProtocol', figures: ['network'], ...types.oneOf('own', 'cal') },
  { key: 'ceweight', field: 'networkCeWeight', figures: ['network-ce'], ...types.oneOf('images', 'loss') },
]);

export const rowOfKey = (key) => TABLE.get(key);
export const rowOfField = (field) => [...TABLE.values()].find((row) => row.field === field);
// The URL keys a figure owns, in the table's order (what its embed snippet carries).
export const keysOf = (figure) => [...TABLE.values()].filter((row) => row.figures.includes(figure)).map((row) => row.key);
// The store fields a figure owns.
export const fieldsOf = (figure) => [...TABLE.values()].filter((row) => row.figures.includes(figure)).map((row) => row.field);

// The one reader: every row's value in `search`, or its default. A value the row's parser
// refuses is left out (the figure shows its default, and checkExperiment says why).
export function readUrl(search = location.search) {
  const p = new URLSearchParams(search);
  const state = {};
  for (const row of TABLE.values()) {
    let value;
    if (p.has(row.key)) value = row.parse(p.get(row.key));
    else {
      for (const [old, parse] of Object.entries(row.legacy)) {
        if (p.has(old)) { value = parse(p.get(old)); break; }
      }
    }
    if (value === undefined) value = row.default;
    if (value !== undefined) state[row.field] = value;
  }
  return state;
}

// The one writer's text: the state's rows (those with a value) in table order, after the
// URL's other keys. `figure` keeps only that figure's keys and drops the rest (embeds).
export function toSearch(state, { figure = null, search = location.search } = {}) {
  const p = figure ? new URLSearchParams() : new URLSearchParams(search);
  for (const row of TABLE.values()) {
    p.delete(row.key);
    for (const old of Object.keys(row.legacy)) p.delete(old);
  }
  for (const row of TABLE.values()) {
    if (figure && !row.figures.includes(figure)) continue;
    const value = state[row.field];
    if (value !== undefined && value !== null && value !== false) p.set(row.key, row.format(value));
  }
  const text = p.toString();
  return text ? `?${text}` : '';
}

// The store: listeners run synchronously, so one λ step updates every linked figure at
// once; the URL is written by one timer after the reader pauses (browsers throttle rapid
// replaceState calls).
const URL_DELAY_MS = 250;

export function createStore(initial) {
  let state = { ...initial };
  const listeners = new Set();
  let urlTimer = null;
  const writeUrl = () => {
    const search = toSearch(state);
    history.replaceState(history.state, '', (search || location.pathname) + location.hash);
  };
  return {
    get: () => state,
    set(patch) {
      const changed = Object.keys(patch).filter((k) => patch[k] !== state[k]);
      if (!changed.length) return;
      state = { ...state, ...patch };
      for (const fn of listeners) fn(state, changed);
      clearTimeout(urlTimer);
      urlTimer = setTimeout(writeUrl, URL_DELAY_MS);
    },
    subscribe(fn) { listeners.add(fn); return () => listeners.delete(fn); },
  };
}

// A drawn image in the URL: 16 grey levels, two pixels per byte, base64url.
export function encodeDrawing(pixels) {
  const bytes = new Uint8Array(Math.ceil(pixels.length / 2));
  for (let i = 0; i < pixels.length; i++) {
    const level = Math.max(0, Math.min(15, Math.round(pixels[i] * 15)));
    bytes[i >> 1] |= i % 2 ? level : level << 4;
  }
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return `d${btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`;
}

export function decodeDrawing(code, dim) {
  try {
    const b64 = code.slice(1).replace(/-/g, '+').replace(/_/g, '/');
    const text = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    if (text.length !== Math.ceil(dim / 2)) return null;
    const out = new Float32Array(dim);
    for (let i = 0; i < dim; i++) {
      const byte = text.charCodeAt(i >> 1);
      out[i] = (i % 2 ? byte & 15 : byte >> 4) / 15;
    }
    return out;
  } catch {
    return null;
  }
}

// Round a drawing to the levels the URL can carry, so a shared link shows the same numbers.
export function quantise(pixels) {
  return pixels.map((p) => Math.max(0, Math.min(15, Math.round(p * 15))) / 15);
}

const vs = (pair) => pair.replace('-', ' vs ');

// An experiment asked for in the URL but not built (or not an experiment at all) is not
// replaced silently: the page shows the nearest built one (chooseExperiment), says so in a
// visible status line that also lists what the server has, and the link is rewritten to
// what is shown. The notice goes just before the node `before`.
export async function checkExperiment(store, before, search = location.search) {
  const p = new URLSearchParams(search);
  const asked = p.get('experiment') ?? p.get('pair');
  const wanted = store.get().experiment;
  let list;
  try { list = await listExperiments(); } catch { return null; } // the figures say why
  if (!list.length) return null;
  const shown = chooseExperiment(list, wanted);
  const askedId = asked === null ? null : rowOfKey('experiment').parse(asked) ?? legacyPair(asked);
  const askedPair = askedId ? digitsOf(askedId) : null;
  const shownPair = pairOf(shown);
  // Without a request in the URL, or with one that names the experiment (or, for a pair, the
  // digits) that is shown, there is nothing to say.
  const quiet = asked === null || shown.id === askedId || (p.get('experiment') === null && askedPair === shownPair);
  if (shown.id !== wanted) store.set({ experiment: shown.id });
  if (quiet) return null;
  const what = askedPair ? `The digit pair ${vs(askedPair)} in this link` : `The digit pair “${asked.slice(0, 16)}” in this link`;
  const why = askedPair ? 'has not been computed for this site' : 'is not an experiment of this site, such as 2-3 or mnist-2-3';
  const pairs = [...new Set(list.map((e) => vs(pairOf(e))))];
  const notice = document.createElement('p');
  notice.className = 'pair-notice';
  notice.setAttribute('role', 'status');
  notice.setAttribute('style', 'margin:12px auto;max-width:min(100%, 680px);padding:8px 12px;border-left:4px solid #d6602a;background:#fff4ec;color:#222;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif');
  before.before(notice);
  // Filled after insertion, so screen readers announce it as a status message.
  requestAnimationFrame(() => {
    notice.textContent = `${what} ${why}, so the figures show ${vs(shownPair)} instead. Pairs available here: ${pairs.join(', ')}.`;
  });
  // Once the reader picks an experiment, the notice has said what it had to.
  const stop = store.subscribe((state, changed) => {
    if (changed.includes('experiment') && state.experiment !== shown.id) { notice.remove(); stop(); }
  });
  return notice;
}

// One store per page; tests and the benchmark reach it through window.__tilting.
export function pageState() {
  if (!window.__tilting?.store) {
    // (plotly-adapter.js may have put its test hooks there first.)
    window.__tilting = { ...window.__tilting, store: createStore(readUrl()), figures: {}, readyAt: {} };
  }
  return window.__tilting;
}
