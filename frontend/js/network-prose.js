// The numbers in the prose of the article's last section, read from the network bundle
// (never typed into the HTML): each <span data-net-fact="name"> gets its value. The
// sentences that depend on which way the data go are chosen here from the data too.
import { fmtWeightDecay } from './ui.js';

const range = (values) => `${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}`;
const pct = (v) => `${(100 * v).toFixed(1)} %`;

// How a sequence moves along the sweep: 'falls' / 'rises' when every step goes that way,
// 'mostly falls' / 'mostly rises' when most steps (and the ends) do, else 'does not move steadily'.
function trend(values) {
  if (values.length < 2) return 'cannot be followed with one network';
  let up = 0; let down = 0;
  for (let i = 1; i < values.length; i++) { if (values[i] > values[i - 1]) up += 1; else if (values[i] < values[i - 1]) down += 1; }
  const steps = values.length - 1;
  if (down === steps) return 'falls';
  if (up === steps) return 'rises';
  if (down > up && values.at(-1) < values[0]) return 'mostly falls';
  if (up > down && values.at(-1) > values[0]) return 'mostly rises';
  return 'does not move steadily';
}

// What calibrating the temperature did to the two ends of the comparison.
function calibrationEffect(weak, strong) {
  const verb = (t) => (t > 1 ? 'softens' : 'sharpens');
  const gap = (s) => s.median_l2_reached;
  const before = gap(strong.attack) / gap(weak.attack);
  const after = gap(strong.attack_calibrated) / gap(weak.attack_calibrated);
  const what = `Calibration ${verb(weak.temperature)} the weakly regularized network (T = ${weak.temperature.toPrecision(3)}) and ${verb(strong.temperature)} the strongly regularized one (T = ${strong.temperature.toPrecision(3)})`;
  if (!Number.isFinite(before) || !Number.isFinite(after)) return `${what}.`;
  const change = after < before ? 'narrows' : 'widens';
  return `${what}, which ${change} the ratio of their median perturbations from ${before.toFixed(1)} to ${after.toFixed(1)}.`;
}

// A sequence's path along the sweep in words: "rises from 0.51 to 0.95", or, when it turns
// once, "rises from 0.51 to 1.14 at α = 1, then falls to 0.81".
function path(values, weightDecays, digits = 2) {
  const v = (x) => x.toFixed(digits);
  const top = values.indexOf(Math.max(...values));
  const bottom = values.indexOf(Math.min(...values));
  const turn = [top, bottom].find((k) => k > 0 && k < values.length - 1
    && trend(values.slice(0, k + 1)).endsWith(k === top ? 'rises' : 'falls')
    && trend(values.slice(k)).endsWith(k === top ? 'falls' : 'rises'));
  if (turn === undefined) return `${trend(values)} from ${v(values[0])} to ${v(values.at(-1))}`;
  const [up, down] = turn === top ? ['rises', 'falls'] : ['falls', 'rises'];
  return `${up} from ${v(values[0])} to ${v(values[turn])} at α = ${fmtWeightDecay(weightDecays[turn])}, then ${down} to ${v(values.at(-1))}`;
}

export function networkFacts(manifest) {
  const models = manifest.models;
  const K = models.length;
  const first = models[0];
  const last = models[K - 1];
  // The strongest weight decay at which (nearly) every attack still reaches its target: the
  // medians of the weight decays beyond it describe only the few attacks that succeeded.
  const reachedK = Math.max(0, ...models.map((m, k) => (m.attack.success_rate >= 0.9 ? k : 0)));
  // For comparing the protocols: the strongest weight decay at which both reach (nearly) every target.
  const calK = Math.max(0, ...models.map((m, k) => (m.attack.success_rate >= 0.9 && m.attack_calibrated.success_rate >= 0.9
    && m.attack_calibrated.next_class_reached === m.attack_calibrated.next_class_l2.length ? k : 0)));
  const unaffected = Math.max(0, ...models.map((m, k) => (m.test_error <= first.test_error + 0.005 ? k : 0)));
  const angles = models.map((m) => m.tilt.median_angle_sample);
  const distances = models.slice(0, reachedK + 1).map((m) => m.attack.median_l2_reached);
  const angleTrend = trend(angles);
  const distanceTrend = trend(distances);
  const errorTrend = trend(models.slice(unaffected).map((m) => m.test_error));
  const predicted = angleTrend.endsWith('falls') && distanceTrend.endsWith('rises');
  const a = (k) => fmtWeightDecay(models[k].weight_decay);
  return {
    count: String(K),
    'decay-min': a(0),
    'decay-max': a(K - 1),
    'decay-unaffected': a(unaffected),
    train: manifest.counts.train.toLocaleString('en'),
    epochs: String(manifest.architecture.epochs),
    hidden: String(manifest.architecture.layers[1]),
    'err-min': pct(first.test_error),
    'err-unaffected': pct(models[unaffected].test_error),
    'err-max': pct(last.test_error),
    'error-trend': errorTrend,
    'angle-min': `${first.tilt.median_angle_sample.toFixed(0)}°`,
    'angle-max': `${last.tilt.median_angle_sample.toFixed(0)}°`,
    'angle-trend': angleTrend,
    'angle-adv-min': `${(first.tilt.median_angle_adversarial ?? first.tilt.median_angle_grid).toFixed(0)}°`,
    'l2-min': first.attack.median_l2_reached?.toFixed(2) ?? 'n/a',
    'l2-reached': models[reachedK].attack.median_l2_reached?.toFixed(2) ?? 'n/a',
    'decay-reached': a(reachedK),
    'distance-trend': distanceTrend,
    'reached-last': `${last.attack.attacks_reached} of ${last.attack.attacks}`,
    'grad-min': first.tilt.median_gradient_norm_sample.toFixed(2),
    'grad-max': last.tilt.median_gradient_norm_sample.toFixed(2),
    'temp-min': first.temperature.toPrecision(3),
    'temp-max': last.temperature.toPrecision(3),
    'score-min': first.median_test_score.toFixed(4),
    'score-max': last.median_test_score.toFixed(2),
    'cal-range-min': range(first.attack_calibrated.next_class_l2),
    'cal-range-high': range(models[calK].attack_calibrated.next_class_l2),
    'decay-cal-high': a(calK),
    'own-range-min': range(first.attack.next_class_l2),
    'cal-median-min': first.attack_calibrated.median_l2_reached?.toFixed(2) ?? 'n/a',
    'cal-median-high': models[calK].attack_calibrated.median_l2_reached?.toFixed(2) ?? 'n/a',
    'rms-min': first.rms_weights[0].toPrecision(2),
    'rms-max': last.rms_weights[0].toPrecision(2),
    'ce-min': first.mean_train_cross_entropy.toPrecision(2),
    'ce-max': last.mean_train_cross_entropy.toPrecision(2),
    'lin-path': path(models.map((m) => m.tilt.median_distance_sample), models.map((m) => m.weight_decay)),
    'angle-grid-min': `${first.tilt.median_angle_grid.toFixed(0)}°`,
    'cal-effect': calibrationEffect(models[0], models[calK]),
    'leaves-verdict': predicted
      ? 'across our sweep the local tilt falls and the adversarial perturbations grow with weight decay, as θ falls and the distance grows with λ for the SVM'
      : 'yet across our sweep the local tilt and the adversarial perturbations do not follow weight decay the way θ and the distance follow λ for the SVM',
    verdict: predicted
      ? 'Both move the way the boundary-tilting account predicts, as λ moves them for the SVM.'
      : 'That is not the pattern the boundary-tilting account predicts for this network (a smaller angle and a larger distance with stronger weight decay), and we report it as measured.',
  };
}

export function fillNetworkProse(manifest) {
  const nodes = document.querySelectorAll('[data-net-fact]');
  if (!nodes.length) return;
  const facts = networkFacts(manifest);
  for (const node of nodes) {
    const value = facts[node.dataset.netFact];
    if (value !== undefined && node.textContent !== value) node.textContent = value;
  }
}
