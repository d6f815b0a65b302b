// An embed page: one figure alone, sized to its container. The page's markup is built
// here (the HTML files only name their figure), and the page posts its height to the
// parent so an <iframe> can grow to fit.
import { ROOT } from './data.js';
import { FIGURES, mountFigure } from './figures.js';

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
document.body.innerHTML = `<figure class="figure embed-figure">
  <h1 class="embed-title"></h1>
  <div data-figure="${name}" class="figure-mount"></div>
  <figcaption class="embed-credit">From <a target="_top">Boundary Tilting</a>, an interactive explanation of work by Thomas Tanay and Lewis D. Griffin.</figcaption>
</figure>`;
document.querySelector('.embed-title').textContent = spec.title;
document.querySelector('.embed-credit a').href = ROOT.href;
mountFigure(name, document.querySelector('.figure-mount'));

if (window.parent !== window) {
  let last = 0;
  new ResizeObserver(() => {
    const height = Math.ceil(document.documentElement.scrollHeight);
    if (height !== last) {
      last = height;
      window.parent.postMessage({ type: 'tilting-embed-height', figure: name, height }, '*');
    }
  }).observe(document.body);
}
