/**
 * Small-row latency ([64, 768], issue #11's "no worse than today"): this checkout's build against
 * another build of normkit (e.g. the commit before resident tensors), both loaded in one process
 * (each its own module instance, backends and memory) and raced in rotated rounds
 * (bench/quick-lib.ts), each call as `npm run bench` times it: the modules' forward and backward
 * (saved statistics), and the ops with `out` (backward: saved statistics, `out`, `into`).
 *   git archive <commit> | tar -x -C /tmp/base && (cd /tmp/base && ln -s $PWD/node_modules . && npm run build)
 *   node build/bench/quick-latency.js /tmp/base/build/src/index.js [reps]
 */
import { pathToFileURL } from "node:url";
import * as here from "../src/index.js";
import { race, randn, report } from "./quick-lib.js";

const other = process.argv[2];
if (other === undefined) throw new Error("usage: node build/bench/quick-latency.js <other build's src/index.js> [reps]");
const base = (await import(pathToFileURL(other).href)) as typeof here;

const [rows, D] = [64, 768];
const x = randn(rows * D), dy = randn(rows * D), w = randn(D), b = randn(D);
type NK = typeof here;
function calls(nk: NK) {
  nk.setBackend("wasm");
  const t = (a: Float32Array, s: number[]) => nk.tensor(a.slice(), s);
  const X = t(x, [rows, D]), DY = t(dy, [rows, D]), W = t(w, [D]), B = t(b, [D]);
  const out = t(new Float32Array(rows * D), [rows, D]), gw = t(new Float32Array(D), [D]), gb = t(new Float32Array(D), [D]);
  const ln = new nk.LayerNorm(D), rms = new nk.RMSNorm(D);
  ln.forward(X);
  rms.forward(X);
  const s = nk.layerNormForward(X, D, { weight: W, bias: B }), r = nk.rmsNormForward(X, D, { weight: W });
  return {
    "layerNorm module forward": () => void ln.forward(X),
    "layerNorm module backward": () => void ln.backward(DY),
    "layerNorm out= forward": () => void nk.layerNorm(X, D, { weight: W, bias: B, out }),
    "layerNorm out= backward": () => void nk.layerNormBackward(DY, X, D, { weight: W, bias: B, mean: s.mean, rstd: s.rstd, out, into: { dweight: gw, dbias: gb } }),
    "rmsNorm module forward": () => void rms.forward(X),
    "rmsNorm module backward": () => void rms.backward(DY),
    "rmsNorm out= forward": () => void nk.rmsNorm(X, D, { weight: W, out }),
    "rmsNorm out= backward": () => void nk.rmsNormBackward(DY, X, D, { weight: W, rstd: r.rstd, out, into: { dweight: gw } }),
  };
}
const a = calls(base), h = calls(here);
// each timed run is 20 calls, so timer resolution and call jitter matter less
const times20 = (f: () => void) => () => {
  for (let i = 0; i < 20; i++) f();
};
for (const k of Object.keys(a) as Array<keyof typeof a>) {
  report(`${k} [${rows}, ${D}], 20 calls`, 20 * 8 * rows * D, race({ [`before (${other})`]: times20(a[k]), "this checkout": times20(h[k]) }));
}
