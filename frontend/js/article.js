// The article: figures mount (and fetch their data) only when they come within 200 px of
// the viewport, so the first view fetches only what it shows. All figures share one
// state: one λ moves them all.
import { mountFigure, installPrint } from './figures.js';
import { checkExperiment, pageState, DEFAULT_EXPERIMENT, DEFAULT_LOG10_LAMBDA } from './state.js';
import { resolveExperiment, getManifest } from './data.js';

const page = pageState();
const containers = [...document.querySelectorAll('[data-figure]')];
const mount = (c) => mountFigure(c.dataset.figure, c);
// An experiment in the link that this site has not computed: said at the top, not swapped silently.
checkExperiment(page.store, document.querySelector('main').firstElementChild);
// First the figures in the opening view; the others are watched only once those have
// their real heights, so a figure that only seemed close (above it, figures still
// empty) is not fetched with the first view.
const opening = containers.filter((c) => c.getBoundingClientRect().top < window.innerHeight);
const openingReady = Promise.all(opening.map(mount));
openingReady.then(() => {
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      observer.unobserve(entry.target);
      mount(entry.target);
    }
  }, { rootMargin: '200px 0px' });
  containers.forEach((c) => { if (!opening.includes(c)) observer.observe(c); });
});

// The prose's numbers about the data (how many models, the λ range, the accuracy where the
// figures start) are read from the experiment the text is about, so they always agree with
// the figures' readouts; the numbers in the HTML are the default build's, for no-script reading.
async function proseFacts() {
  const { experiment } = await resolveExperiment(DEFAULT_EXPERIMENT);
  if (experiment.digits.join('-') !== '2-3') return; // the text is about 2 vs 3
  const manifest = await getManifest(experiment.id);
  const models = manifest.models;
  let k = 0;
  models.forEach((m, i) => { if (Math.abs(m.log10_lambda - DEFAULT_LOG10_LAMBDA) < Math.abs(models[k].log10_lambda - DEFAULT_LOG10_LAMBDA)) k = i; });
  const power = (v) => String(Number(v.toFixed(1))).replace('-', '−');
  const facts = {
    models: String(models.length),
    'lambda-min': power(Math.min(...models.map((m) => m.log10_lambda))),
    'lambda-max': power(Math.max(...models.map((m) => m.log10_lambda))),
    'default-lambda': power(models[k].log10_lambda),
    accuracy: String(Math.round(100 * (1 - models[k].test_error))),
  };
  for (const node of document.querySelectorAll('[data-fact]')) {
    const value = facts[node.dataset.fact];
    if (value !== undefined && node.textContent !== value) node.textContent = value;
  }
}
proseFacts().catch(() => {}); // without data the figures explain; the prose keeps its numbers

// The project's code: a link to its repository when the deployment names one in
// <meta name="tilting:source-code" content="https://…">; without one the sentence in the
// HTML stands, linking the archive of the code that the server makes (source.tar.gz).
const source = document.querySelector('meta[name="tilting:source-code"]')?.content.trim();
if (source && /^https?:\/\//.test(source)) {
  for (const node of document.querySelectorAll('[data-source-code]')) {
    const a = Object.assign(document.createElement('a'), { href: source, textContent: 'source code' });
    node.replaceChildren('The ', a, ' — the solver, the server, this page and their tests — is in the project’s repository.');
  }
}
// Paper shows a link's address (print.css): the archive's in full, not relative to the page.
for (const a of document.querySelectorAll('[data-source-code] a')) a.setAttribute('href', a.href);

// Display equations that overflow their column scroll; a scrolling region must be
// reachable from the keyboard, so those (and only those) are made focusable.
function focusableScrollingMath() {
  for (const m of document.querySelectorAll('math[display="block"]')) {
    const scrolls = m.scrollWidth > m.clientWidth || m.scrollHeight > m.clientHeight;
    if (scrolls) m.setAttribute('tabindex', '0'); else m.removeAttribute('tabindex');
  }
}
let mathTimer = null;
const scheduleMath = () => { clearTimeout(mathTimer); mathTimer = setTimeout(focusableScrollingMath, 150); };
(document.fonts?.ready ?? Promise.resolve()).then(focusableScrollingMath);
new ResizeObserver(scheduleMath).observe(document.querySelector('main'));

// Printing: every figure mounted and its plots replaced, on paper, by pictures (figures.js);
// the figures below the opening view are mounted in the background once the page is quiet.
installPrint(containers, { opening: openingReady });
