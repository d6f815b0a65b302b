// Two defaults of the canvas contexts plotly.js asks for, changed where it offers no option.
// Installed once, before plotly.js loads (figures.js imports this module first).
//  * The tilting plane's WebGL context without MSAA: its markers are round sprites that
//    smooth their own edges, so MSAA adds nothing visible, while it more than doubles the
//    cost of redrawing 6,000 points where WebGL is software-rendered (measured in
//    SwiftShader: 6.2 -> 2.7 ms per draw; benchmarks/RESULTS.md).
//  * Off-page 2-D canvases read back often: the 3-D plot measures its fonts by drawing
//    text off-page and reading the pixels back (getImageData, many times). Declaring
//    willReadFrequently keeps those canvases in memory the CPU reads fast, and Chromium
//    stops warning about it in the console.
const nativeGetContext = HTMLCanvasElement.prototype.getContext;

HTMLCanvasElement.prototype.getContext = function getContext(type, attributes, ...rest) {
  let wanted = attributes;
  if (typeof type === 'string' && type.includes('webgl') && this.closest?.('.plane-plot')) {
    wanted = { ...attributes, antialias: false };
  } else if (type === '2d' && !this.isConnected) {
    wanted = { willReadFrequently: true, ...attributes };
  }
  return nativeGetContext.call(this, type, wanted, ...rest);
};
