// Shared by the story figures (network, toy, tilt3d, loss): their stylesheet.
import { ROOT } from './data.js';

export function ensureStoryCss() {
  if (document.querySelector('link[data-story-css]')) return;
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = new URL('css/story.css', ROOT).href;
  link.dataset.storyCss = '';
  document.head.append(link);
}
