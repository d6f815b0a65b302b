// The λ slider: a native range input over the K models, label "λ = 10^α".

let counter = 0;

export function lambdaSlider(parent, { onInput, describe }) {
  const id = `lambda-${++counter}`;
  const wrap = document.createElement('div');
  wrap.className = 'lambda-control';
  wrap.innerHTML = `<label for="${id}">Regularization <span class="lambda-value">λ = 10<sup></sup></span></label>
    <input id="${id}" type="range" min="0" max="0" step="1" value="0">`;
  parent.append(wrap);
  const input = wrap.querySelector('input');
  const sup = wrap.querySelector('sup');
  let grid = [0];
  const show = (k) => {
    const alpha = grid[k].toFixed(1).replace('-', '−');
    sup.textContent = alpha;
    input.setAttribute('aria-valuetext', `lambda = 10 to the power ${grid[k].toFixed(1)}${describe ? `, ${describe(k)}` : ''}`);
  };
  // At most one update per frame: a fast drag or key repeat only draws the latest value.
  let queued = false;
  input.addEventListener('input', () => {
    show(Number(input.value));
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; onInput(Number(input.value)); });
  });
  return {
    input,
    setGrid(g) { grid = g; input.max = String(g.length - 1); },
    set(k) { input.value = String(k); show(k); },
  };
}
