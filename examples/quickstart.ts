// The README's quick start, runnable: `node build/examples/quickstart.js`.
import { tensor, layerNorm, layerNormForward, layerNormBackward, rmsNorm, LayerNorm } from "../src/index.js";

const x = tensor([1, 2, 3, 4, 10, 20, 30, 40], [2, 4]); // 2 rows of width 4
const weight = tensor([1, 1, 2, 2], [4]);
const bias = tensor([0, 0, 0, 1], [4]);

const y = layerNorm(x, [4], { weight, bias }); // per row: (x − mean)/√(var + 1e-5)·γ + β
console.log("layerNorm:", Array.from(y.data, (v) => +v.toFixed(4)));
console.log("rmsNorm:  ", Array.from(rmsNorm(x, [4]).data, (v) => +v.toFixed(4)));

const dy = tensor(new Float32Array(8).fill(1), [2, 4]);
const { dx, dweight, dbias } = layerNormBackward(dy, x, [4], { weight, bias });
console.log("dx:", Array.from(dx.data, (v) => +v.toFixed(4)), "dweight:", dweight?.data, "dbias:", dbias?.data);

// autograd style: forward's statistics handed to backward (not recomputed), dx into a buffer you keep
const f = layerNormForward(x, [4], { weight, bias });
const dxBuf = tensor(new Float32Array(8), [2, 4]);
layerNormBackward(dy, x, [4], { weight, bias, mean: f.mean, rstd: f.rstd, out: dxBuf });
console.log("mean:", f.mean.data, "rstd:", Array.from(f.rstd.data, (v) => +v.toFixed(4)), "same dx:", dxBuf.data.every((v, i) => v === dx.data[i]));

const ln = new LayerNorm(4); // a module: keeps mean/rstd from forward for backward, accumulates grads
ln.forward(x);
ln.backward(dy);
console.log("module grads:", ln.weight?.grad.data, ln.bias?.grad.data);
