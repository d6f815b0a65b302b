// The λ slider: a native range input over the nModels models, label "λ = 10^log10Lambda".

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
  let log10Lambdas = [0]; // of the models, in slider order
  const show = (k) => {
    const log10Lambda = log10Lambdas[k].toFixed(1).replace('-', '−');
    sup.textContent = log10Lambda;
    input.setAttribute('aria-valuetext', `lambda = 10 to the power ${log10Lambdas[k].toFixed(1)}${describe ? `, ${describe(k)}` : ''}`);
  };
  // At most one update per frame. The first input since the last frame is applied at
  // once (it shows in the very next frame); later ones wait for the next frame, and only
  // the latest value is drawn.
  let busy = false;
  let pending = null;
  const release = () => {
    if (pending === null) { busy = false; return; }
    const k = pending;
    pending = null;
    requestAnimationFrame(release); // first, so a failing update cannot stall the slider
    onInput(k);
  };
  input.addEventListener('input', () => {
    const k = Number(input.value);
    show(k);
    if (busy) { pending = k; return; }
    busy = true;
    requestAnimationFrame(release);
    onInput(k);
  });
  return {
    input,
    setLog10Lambdas(values) { log10Lambdas = values; input.max = String(values.length - 1); },
    set(k) { input.value = String(k); show(k); },
  };
}
