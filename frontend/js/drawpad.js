// A canvas the reader draws a digit on (mouse, touch, pen via pointer events, or the
// keyboard pen below). The drawing is cropped, scaled to fit a box of 20/28 of the image
// side, centred on its centre of mass (as MNIST digits are) and scaled to [0, 1].
import { el } from './ui.js';

const SIZE = 280;
const STEP = 14; // keyboard pen: one arrow press moves 1/20 of the pad (Shift: a quarter of that)
let padCount = 0;

export function drawPad(parent, side, { onDraw }) {
  const helpId = `drawpad-help-${++padCount}`;
  const canvas = el('canvas', {
    class: 'drawpad', width: String(SIZE), height: String(SIZE), tabindex: '0', role: 'img',
    'aria-label': 'Drawing area: draw a digit with the mouse, a finger, a pen or the keyboard', 'aria-describedby': helpId,
  });
  const cursor = el('span', { 'aria-hidden': 'true', style: 'position:absolute;width:12px;height:12px;margin:-8px 0 0 -8px;border:2px solid #d6602a;border-radius:50%;pointer-events:none;display:none' });
  const wrap = el('span', { style: 'position:relative;display:inline-block;line-height:0' }, canvas, cursor);
  const help = el('p', { id: helpId, class: 'fig-note drawpad-help', text: 'Keyboard: focus the box, press Enter to put the pen down, draw with the arrow keys (Shift for small steps), then Enter or Escape to lift it; Delete clears. Or choose one of the test images above with Tab and Enter.' });
  const clear = el('button', { type: 'button', text: 'Clear' });
  parent.append(wrap, clear, help);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const reset = () => { ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, SIZE, SIZE); };
  reset();
  let drawing = false; let last = null;
  const at = (ev) => {
    const r = canvas.getBoundingClientRect();
    return [(ev.clientX - r.left) * (SIZE / r.width), (ev.clientY - r.top) * (SIZE / r.height)];
  };
  const stroke = (p) => {
    ctx.strokeStyle = '#000'; ctx.lineWidth = 20; ctx.lineCap = 'round'; ctx.lineJoin = 'round';
    ctx.beginPath(); ctx.moveTo(...(last ?? p)); ctx.lineTo(...p); ctx.stroke();
    last = p;
  };
  canvas.addEventListener('pointerdown', (ev) => {
    drawing = true; last = null; canvas.setPointerCapture(ev.pointerId); stroke(at(ev)); ev.preventDefault();
  });
  canvas.addEventListener('pointermove', (ev) => { if (drawing) stroke(at(ev)); });
  const end = () => { if (!drawing) return; drawing = false; last = null; onDraw(read()); };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  clear.addEventListener('click', () => { reset(); onDraw(null); });

  // The keyboard pen: a visible cursor, moved by the arrow keys; with the pen down each
  // move draws a stroke, and lifting the pen reads the drawing as a pointer stroke does.
  let pen = [SIZE / 2, SIZE / 2]; let penDown = false;
  const showCursor = () => {
    cursor.style.display = '';
    cursor.style.left = `${(100 * pen[0]) / SIZE}%`; cursor.style.top = `${(100 * pen[1]) / SIZE}%`;
    cursor.style.background = penDown ? '#d6602a' : 'transparent';
  };
  const lift = () => { if (!penDown) return; penDown = false; last = null; showCursor(); onDraw(read()); };
  canvas.addEventListener('focus', () => { if (canvas.matches(':focus-visible')) showCursor(); });
  canvas.addEventListener('blur', () => { lift(); cursor.style.display = 'none'; });
  canvas.addEventListener('keydown', (ev) => {
    const d = ev.shiftKey ? STEP / 4 : STEP;
    const move = { ArrowLeft: [-d, 0], ArrowRight: [d, 0], ArrowUp: [0, -d], ArrowDown: [0, d] }[ev.key];
    if (move) {
      pen = [Math.min(SIZE - 10, Math.max(10, pen[0] + move[0])), Math.min(SIZE - 10, Math.max(10, pen[1] + move[1]))];
      if (penDown) stroke(pen);
    } else if (ev.key === 'Enter' || ev.key === ' ') {
      if (penDown) lift(); else { penDown = true; last = null; stroke(pen); }
    } else if (ev.key === 'Escape') {
      lift();
    } else if (ev.key === 'Delete' || ev.key === 'Backspace') {
      penDown = false; last = null; reset(); onDraw(null);
    } else {
      return;
    }
    ev.preventDefault();
    showCursor();
  });

  function read() {
    const { data } = ctx.getImageData(0, 0, SIZE, SIZE);
    let x0 = SIZE; let y0 = SIZE; let x1 = -1; let y1 = -1;
    for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) {
      if (data[4 * (y * SIZE + x)] < 128) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
    }
    if (x1 < 0) return null;
    const box = Math.max(1, Math.round((side * 20) / 28));
    const scale = box / Math.max(x1 - x0 + 1, y1 - y0 + 1);
    const bw = Math.max(1, Math.round((x1 - x0 + 1) * scale));
    const bh = Math.max(1, Math.round((y1 - y0 + 1) * scale));
    const small = document.createElement('canvas');
    small.width = bw; small.height = bh;
    const sctx = small.getContext('2d', { willReadFrequently: true });
    sctx.fillStyle = '#fff'; sctx.fillRect(0, 0, bw, bh);
    sctx.imageSmoothingEnabled = true; sctx.imageSmoothingQuality = 'high';
    sctx.drawImage(canvas, x0, y0, x1 - x0 + 1, y1 - y0 + 1, 0, 0, bw, bh);
    const px = sctx.getImageData(0, 0, bw, bh).data;
    let mass = 0; let cx = 0; let cy = 0;
    const ink = new Float32Array(bw * bh);
    for (let i = 0; i < bw * bh; i++) {
      ink[i] = 1 - px[4 * i] / 255;
      mass += ink[i]; cx += ink[i] * (i % bw); cy += ink[i] * Math.floor(i / bw);
    }
    const ox = Math.round((side - 1) / 2 - cx / mass);
    const oy = Math.round((side - 1) / 2 - cy / mass);
    const out = new Float32Array(side * side);
    for (let y = 0; y < bh; y++) for (let x = 0; x < bw; x++) {
      const tx = x + ox; const ty = y + oy;
      if (tx >= 0 && tx < side && ty >= 0 && ty < side) out[ty * side + tx] = Math.min(1, Math.max(0, ink[y * bw + x]));
    }
    return out;
  }
  return { canvas, clear: reset };
}
