// The article: figures mount (and fetch their data) only when they come within 200 px of
// the viewport, so the first view fetches only what it shows. All figures share one
// state: one λ moves them all.
import { mountFigure, pageState } from './figures.js';

pageState();
const containers = [...document.querySelectorAll('[data-figure]')];
const mount = (c) => mountFigure(c.dataset.figure, c);
// First the figures in the opening view; the others are watched only once those have
// their real heights, so a figure that only seemed close (above it, figures still
// empty) is not fetched with the first view.
const opening = containers.filter((c) => c.getBoundingClientRect().top < window.innerHeight);
Promise.all(opening.map(mount)).then(() => {
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      observer.unobserve(entry.target);
      mount(entry.target);
    }
  }, { rootMargin: '200px 0px' });
  containers.forEach((c) => { if (!opening.includes(c)) observer.observe(c); });
});
// Printing shows every figure.
window.addEventListener('beforeprint', () => containers.forEach(mount));
