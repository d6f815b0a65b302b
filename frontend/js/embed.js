// An embed page: one figure alone, sized to its container. The page's markup is built
// here (the HTML files only name their figure), and the page posts its height to the
// parent so an <iframe> can grow to fit (the "Embed this figure" snippet listens for it).
import { ROOT } from './data.js';
import { FIGURES, mountFigure, installPrint } from './figures.js';
import { checkExperiment, keysOf, pageState } from './state.js';

const name = document.documentElement.dataset.figure;
const spec = FIGURES[name];
document.title = `${spec.title} — Boundary Tilting`;
for (const [href, media] of [['css/article.css', 'all'], ['css/print.css', 'print']]) {
  const link = document.createElement('link');
  link.rel = 'stylesheet'; link.href = new URL(href, ROOT).href; link.media = media;
  document.head.append(link);
}
const icon = Object.assign(document.createElement('link'), { rel: 'icon', href: 'data:,' });
document.head.append(icon);
document.body.className = 'embed-body';
// The figure is the page's main landmark (a div with the role: article.css styles <main>).
document.body.innerHTML = `<div class="embed-main" role="main"><figure class="figure embed-figure">
  <h1 class="embed-title"></h1>
  <div data-figure="${name}" class="figure-mount"></div>
  <figcaption class="embed-credit">From <a target="_top">Boundary Tilting</a>, an interactive explanation of work by Thomas Tanay and Lewis D. Griffin.</figcaption>
</figure></div>`;
document.querySelector('.embed-title').textContent = spec.title;
document.querySelector('.embed-credit a').href = ROOT.href;
const mountNode = document.querySelector('.figure-mount');
mountFigure(name, mountNode);
if (keysOf(name).includes('experiment')) checkExperiment(pageState().store, mountNode);
installPrint([mountNode]);

if (window.parent !== window) {
  // The content's own height (not the viewport's, which is the iframe's current height and
  // would never let it shrink).
  let last = 0;
  const post = () => {
    const body = document.body.getBoundingClientRect();
    const height = Math.ceil(Math.max(body.height, document.querySelector('.embed-figure').getBoundingClientRect().bottom + window.scrollY));
    if (height !== last) {
      last = height;
      window.parent.postMessage({ type: 'tilting-embed-height', figure: name, height }, '*');
    }
  };
  new ResizeObserver(post).observe(document.body);
  window.addEventListener('load', () => { last = 0; post(); });
}
