// The article: figures mount (and fetch their data) only when they near the viewport,
// so the first view stays small. All figures share one state: one λ moves them all.
import { mountFigure, pageState } from './figures.js';

pageState();
const containers = [...document.querySelectorAll('[data-figure]')];
const observer = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    observer.unobserve(entry.target);
    mountFigure(entry.target.dataset.figure, entry.target);
  }
}, { rootMargin: '400px 0px' });
containers.forEach((c) => observer.observe(c));
// Printing shows every figure.
window.addEventListener('beforeprint', () => containers.forEach((c) => mountFigure(c.dataset.figure, c)));
