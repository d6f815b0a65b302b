// Shared figure state (pair, λ, chosen images, test toggle), mirrored in the URL
// with history.replaceState so a link reproduces the view.
import { listExperiments } from './data.js';

// The pair the article's text is written about: shown when the URL names none.
export const DEFAULT_PAIR = '2-3';

const KEYS = ['pair', 'lambda', 'x', 'y', 'g', 'test'];

export function readUrl(search = location.search) {
  const p = new URLSearchParams(search);
  const state = {};
  const pair = p.get('pair');
  if (pair && /^\d-\d$/.test(pair)) state.pair = pair;
  const lambda = Number.parseFloat(p.get('lambda'));
  if (Number.isFinite(lambda)) state.lambda = lambda;
  for (const key of ['x', 'y', 'g']) {
    const value = p.get(key);
    if (value && /^(\d{1,3}|d[A-Za-z0-9_-]+)$/.test(value)) state[key] = value;
  }
  if (p.get('test') === '1') state.test = true;
  return state;
}

export function toSearch(state) {
  const p = new URLSearchParams(location.search);
  for (const key of KEYS) p.delete(key);
  if (state.pair) p.set('pair', state.pair);
  if (state.lambda !== undefined && state.lambda !== null) p.set('lambda', String(Math.round(state.lambda * 100) / 100));
  for (const key of ['x', 'y', 'g']) if (state[key] !== undefined && state[key] !== null) p.set(key, String(state[key]));
  if (state.test) p.set('test', '1');
  const text = p.toString();
  return text ? `?${text}` : '';
}

export function createStore(initial) {
  let state = { ...initial };
  const listeners = new Set();
  let urlTimer = null;
  const store = {
    get: () => state,
    // Listeners run synchronously so one λ step updates every linked figure at once.
    set(patch) {
      const changed = Object.keys(patch).filter((k) => patch[k] !== state[k]);
      if (!changed.length) return;
      state = { ...state, ...patch };
      for (const fn of listeners) fn(state, changed);
      // The URL is written after the reader pauses: browsers throttle rapid replaceState calls.
      clearTimeout(urlTimer);
      urlTimer = setTimeout(() => history.replaceState(history.state, '', toSearch(state) + location.hash), 250);
    },
    subscribe(fn) { listeners.add(fn); return () => listeners.delete(fn); },
  };
  return store;
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

// A digit pair asked for in the URL but not built (or not a pair at all) is not replaced
// silently: the page shows 2 vs 3 (or, without it, the first built pair; for "9-4", 4 vs 9),
// says so in a visible status line that also lists what the server has, and rewrites the
// link to what is shown. The notice goes just before the node `before`.
export async function checkPair(store, before, search = location.search) {
  const asked = new URLSearchParams(search).get('pair');
  const wanted = store.get().pair;
  let list;
  try { list = await listExperiments(); } catch { return null; } // the figures say why
  if (!list.length) return null;
  const key = (e) => `${e.digits[0]}-${e.digits[1]}`;
  const built = [...new Set(list.map(key))];
  if (built.includes(wanted) && (asked === null || asked === wanted)) return null;
  const reversed = /^\d-\d$/.test(asked ?? '') ? asked.split('-').reverse().join('-') : null;
  const shown = built.includes(wanted) ? wanted : reversed && built.includes(reversed) ? reversed
    : built.includes(DEFAULT_PAIR) ? DEFAULT_PAIR : built[0];
  const vs = (pair) => pair.replace('-', ' vs ');
  const what = asked === null ? `The digit pair ${vs(wanted)}` : /^\d-\d$/.test(asked)
    ? `The digit pair ${vs(asked)} in this link` : `The digit pair “${asked.slice(0, 12)}” in this link`;
  const why = asked !== null && !/^\d-\d$/.test(asked) ? 'is not a pair of two digits such as 2-3'
    : 'has not been computed for this site';
  const notice = document.createElement('p');
  notice.className = 'pair-notice';
  notice.setAttribute('role', 'status');
  notice.setAttribute('style', 'margin:12px auto;max-width:min(100%, 680px);padding:8px 12px;border-left:4px solid #d6602a;background:#fff4ec;color:#222;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif');
  before.before(notice);
  // Filled after insertion, so screen readers announce it as a status message.
  requestAnimationFrame(() => {
    notice.textContent = `${what} ${why}, so the figures show ${vs(shown)} instead. Pairs available here: ${built.map(vs).join(', ')}.`;
  });
  if (shown !== wanted) store.set({ pair: shown });
  // Once the reader picks a pair, the notice has said what it had to.
  const stop = store.subscribe((state, changed) => {
    if (changed.includes('pair') && state.pair !== shown) { notice.remove(); stop(); }
  });
  return notice;
}

// One store per page; tests and the benchmark reach it through window.__tilting.
export function pageState() {
  if (!window.__tilting) {
    // Without ?pair= the page shows 2 vs 3, the pair its text is written about, whatever
    // else the server has (state.js checks that it is built, and says so when it is not).
    window.__tilting = { store: createStore({ pair: DEFAULT_PAIR, ...readUrl() }), figures: {}, readyAt: {} };
  }
  return window.__tilting;
}
