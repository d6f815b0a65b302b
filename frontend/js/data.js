// Data loading: the experiment list, manifests and binary arrays, each fetched once.
// Every URL is relative to this module, so the site works under any sub-path and
// as a static export.

export const ROOT = new URL('../', import.meta.url);
export const API = new URL('api/', ROOT);

const jsonCache = new Map();
const arrayCache = new Map();

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) {
    let detail = '';
    try { detail = (await response.json()).detail ?? ''; } catch { /* not JSON */ }
    throw new Error(`Could not load ${url.pathname ?? url}: ${response.status} ${detail}`.trim());
  }
  return response;
}

function getJson(path) {
  if (!jsonCache.has(path)) {
    jsonCache.set(path, fetchOk(new URL(path, API)).then((r) => r.json()));
  }
  return jsonCache.get(path);
}

export function listExperiments() {
  return getJson('experiments.json').then((body) => body.experiments);
}

export function getManifest(id) {
  return getJson(`experiments/${encodeURIComponent(id)}.json`);
}

// float16 -> float32 through a 65,536-entry table (exact; built once).
let halfTable = null;
function halfToFloat(bits) {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exponent = (h >> 10) & 0x1f;
      const fraction = h & 0x3ff;
      halfTable[h] = exponent === 0 ? sign * fraction * 2 ** -24
        : exponent === 31 ? (fraction ? NaN : sign * Infinity)
          : sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
    }
  }
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfTable[bits[i]];
  return out;
}

const TYPED = { '<f4': Float32Array, '<f8': Float64Array, '<i4': Int32Array, '|i1': Int8Array, int8: Int8Array, float32: Float32Array, int32: Int32Array, float64: Float64Array };

function decode(buffer, info, half) {
  if (half) return halfToFloat(new Uint16Array(buffer));
  const Type = TYPED[info.dtype];
  if (!Type) throw new Error(`Unsupported dtype ${info.dtype}`);
  return new Type(buffer);
}

// One array of one experiment. `half` asks for the float16 transfer when the server offers it.
export async function getArray(id, name, { half = false } = {}) {
  const manifest = await getManifest(id);
  const info = manifest.arrays[name];
  if (!info) throw new Error(`Experiment ${id} has no array ${name}`);
  return cachedArray(`${id}/${name}`, name, info, half);
}

// Fetch and decode one array described by a manifest entry, once per key.
function cachedArray(prefix, name, info, half) {
  const useHalf = half && Boolean(info.url_f16);
  const key = `${prefix}/${useHalf}`;
  if (!arrayCache.has(key)) {
    const url = new URL(useHalf ? info.url_f16 : info.url, API);
    arrayCache.set(key, fetchOk(url).then((r) => r.arrayBuffer()).then((buf) => {
      const data = decode(buf, info, useHalf);
      const expected = info.shape.reduce((a, b) => a * b, 1);
      if (data.length !== expected) throw new Error(`${name}: expected ${expected} values, got ${data.length}`);
      return { data, shape: info.shape, half: useHalf };
    }));
  }
  return arrayCache.get(key);
}

// The experiment the article's text is written about: shown when the URL names none.
export const DEFAULT_EXPERIMENT = 'mnist-2-3';

const digitsOf = (id) => /^[a-z0-9]+-(\d)-(\d)(?:-|$)/.exec(id ?? '')?.slice(1, 3).join('-') ?? null;

// The experiment shown for a wanted id: that one if built; else one of the same digits
// (MNIST first; e.g. the 8×8 fallback of mnist-2-3); else, for a reversed pair (9-4), the
// pair the right way round; else the default, else the first built. `found`: the wanted
// id itself is built.
export function chooseExperiment(list, wanted) {
  const byId = list.find((e) => e.id === wanted);
  if (byId) return byId;
  const sameDigits = (pair) => {
    const matches = list.filter((e) => `${e.digits[0]}-${e.digits[1]}` === pair);
    return matches.find((e) => e.dataset === 'mnist') ?? matches[0];
  };
  const pair = digitsOf(wanted);
  return (pair && (sameDigits(pair) ?? sameDigits(pair.split('-').reverse().join('-'))))
    ?? list.find((e) => e.id === DEFAULT_EXPERIMENT) ?? sameDigits(digitsOf(DEFAULT_EXPERIMENT)) ?? list[0];
}

export async function resolveExperiment(id) {
  const list = await listExperiments();
  if (!list.length) throw new Error('The server has no experiments. Build one with `tilting precompute`.');
  const experiment = chooseExperiment(list, id);
  return { experiment, found: experiment.id === id, list };
}

export function pairOf(experiment) {
  return `${experiment.digits[0]}-${experiment.digits[1]}`;
}
export { digitsOf };

// An experiment with a given set of arrays loaded. Rows of (nModels, n) arrays are exposed
// as views made once, so a λ step never allocates.
export async function loadExperiment(id, names, halfNames = []) {
  const manifest = await getManifest(id);
  const entries = await Promise.all(names.map((n) => getArray(id, n, { half: halfNames.includes(n) })));
  const arrays = Object.fromEntries(names.map((n, i) => [n, entries[i]]));
  const side = manifest.dataset.image_side;
  return {
    id,
    manifest,
    arrays,
    side,
    dim: side * side,
    nModels: manifest.models.length,
    log10Lambdas: manifest.models.map((m) => m.log10_lambda), // per model, ascending
    model: (k) => manifest.models[k],
    row(name, k) {
      const { data, shape } = arrays[name];
      const width = shape[1];
      return data.subarray(k * width, (k + 1) * width);
    },
    nearestK(log10Lambda) {
      if (log10Lambda === null || log10Lambda === undefined || Number.isNaN(log10Lambda)) return null;
      let best = 0;
      manifest.models.forEach((m, k) => {
        if (Math.abs(m.log10_lambda - log10Lambda) < Math.abs(manifest.models[best].log10_lambda - log10Lambda)) best = k;
      });
      return best;
    },
  };
}

// A figure bundle (network-mnist, toy): api/figures/{id}.json, manifest plus array URLs.
// The listing is asked first, so a bundle that was never built is a sentence, not a 404.
export async function getFigureData(id) {
  const { figures } = await getJson('figures.json');
  if (!figures.some((f) => f.id === id)) {
    const flag = id === 'toy' ? '--toy' : '--network';
    throw new Error(`This figure's data (${id}) has not been built yet: run \`tilting precompute ${flag}\`.`);
  }
  return getJson(`figures/${encodeURIComponent(id)}.json`);
}

// The named arrays of a figure bundle, as {name: {data, shape}}, each fetched once.
export async function loadFigureArrays(id, names) {
  const figure = await getFigureData(id);
  const entries = await Promise.all(names.map((name) => {
    const info = figure.arrays[name];
    if (!info) throw new Error(`Figure data ${id} has no array ${name}`);
    return cachedArray(`figures/${id}/${name}`, name, info, false);
  }));
  return Object.fromEntries(names.map((n, i) => [n, entries[i]]));
}
