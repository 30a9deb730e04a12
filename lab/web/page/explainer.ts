/**
 * Section 1: LayerNorm on one editable vector, step by step — the mean, x − μ, the variance, the
 * normalized x̂, then y = γ·x̂ + β with γ and β on sliders. μ, 1/√(σ²+ε), x̂ and y come from normkit
 * (layerNormForward on the page's default backend); the page only subtracts μ for the picture of
 * step 2 and shows σ² as 1/rstd² − ε. Every shown number carries its full value in data-value, which
 * the end-to-end test (test/lab/web.test.ts) checks against normkit's float64 reference.
 */
import { LAYER_NORM_EPS, layerNorm, layerNormForward, tensor } from "../../../src/index.js";
import { escapeHtml as h } from "../../report/format.js";
import { barChart, fitWidth, num, onResize } from "./svg.js";

const D = 8;

const PRESETS: { name: string; values: () => number[] }[] = [
  { name: "mean 5, sd 2", values: () => [2, 4, 4, 4, 5, 5, 7, 9] },
  { name: "random", values: () => Array.from({ length: D }, () => Number((Math.random() * 8 - 4).toFixed(2))) },
  // two-pass variance keeps the small spread; E[x²] − E[x]² in float32 would lose it entirely
  { name: "10000 + small noise", values: () => [10000.5, 9999.75, 10000.25, 9999.5, 10000, 10000.75, 9999.25, 10000] },
  { name: "constant (σ² = 0)", values: () => new Array<number>(D).fill(3) },
  { name: "one outlier", values: () => [0.1, -0.2, 0.3, 0, -0.1, 0.2, -0.3, 12] },
];

/** What the explainer shows, as normkit computed it (float32 values widened to numbers). */
export interface ExplainerValues {
  x: number[];
  mean: number;
  rstd: number;
  centered: number[];
  xhat: number[];
  gamma: number;
  beta: number;
  y: number[];
}

export function computeExplainer(x: readonly number[], gamma: number, beta: number): ExplainerValues {
  const xt = tensor(Float32Array.from(x), [1, x.length]);
  const w = tensor(new Float32Array(x.length).fill(gamma), [x.length]);
  const b = tensor(new Float32Array(x.length).fill(beta), [x.length]);
  const { y, mean, rstd } = layerNormForward(xt, [x.length], { weight: w, bias: b });
  const xhat = layerNorm(xt, [x.length]);
  const m = mean.data[0];
  return {
    x: Array.from(xt.data),
    mean: m,
    rstd: rstd.data[0],
    centered: Array.from(xt.data, (v) => Math.fround(v - m)),
    xhat: Array.from(xhat.data),
    gamma: Math.fround(gamma),
    beta: Math.fround(beta),
    y: Array.from(y.data),
  };
}

const numbers = (series: string, values: readonly number[], names: readonly string[]) =>
  `<table class="nums sr-only" data-series="${series}"><tr>${values.map((v, i) => `<th scope="col">${h(names[i])}</th>`).join("")}</tr>` +
  `<tr>${values.map((v) => `<td data-value="${v}">${h(num(v))}</td>`).join("")}</tr></table>`;

const scalar = (id: string, v: number) => `<output id="${id}" data-value="${v}">${h(num(v))}</output>`;

export function mountExplainer(root: HTMLElement): void {
  let x = PRESETS[0].values();
  let gamma = 1;
  let beta = 0;
  const names = Array.from({ length: D }, (_, i) => `x${i + 1}`);

  root.innerHTML = `
<p>A normalization layer rescales each sample so that its values have mean 0 and variance 1, then lets the network
choose a new scale γ and shift β. Edit the vector and watch every step; the numbers come from normkit's
<code>layerNormForward</code> running in this page.</p>
<ol class="steps">
<li class="step"><h3>Your vector <var>x</var></h3>
  <div class="presets" role="group" aria-label="Example vectors">${PRESETS.map((p, i) => `<button type="button" data-preset="${i}">${h(p.name)}</button>`).join("")}</div>
  <div class="vec-inputs" role="group" aria-label="The vector x">${names.map((n, i) => `<label><span>${n}</span><input type="number" step="any" inputmode="decimal" data-i="${i}" aria-label="${n}"></label>`).join("")}</div>
  <p class="err" role="alert" id="ex-error" hidden></p>
  <div class="fig" id="ex-fig-x"></div></li>
<li class="step"><h3>Subtract the mean</h3>
  <p><var>μ</var> = (x₁ + … + x₈) / 8 = ${scalar("ex-mean", 0)}. Centered, the values balance around 0:</p>
  <div class="fig" id="ex-fig-c"></div></li>
<li class="step"><h3>Measure the spread</h3>
  <p>The variance is the mean of the squared centered values: <var>σ²</var> = mean((x − μ)²) = ${scalar("ex-var", 0)}.
  normkit adds <var>ε</var> = ${LAYER_NORM_EPS} inside the square root (PyTorch's default), so a constant vector gives 0s instead of a division by zero:
  √(σ² + ε) = ${scalar("ex-std", 0)}.</p></li>
<li class="step"><h3>Normalize</h3>
  <p><var>x̂</var> = (x − μ) / √(σ² + ε): mean 0, variance 1 (almost: ε), whatever the scale or offset of <var>x</var>.</p>
  <div class="fig" id="ex-fig-xhat"></div></li>
<li class="step"><h3>Scale and shift: <var>y</var> = γ·x̂ + β</h3>
  <div class="sliders">
  <label for="ex-gamma">γ (scale) <output id="ex-gamma-out"></output></label><input id="ex-gamma" type="range" min="-3" max="3" step="0.05" value="1">
  <label for="ex-beta">β (shift) <output id="ex-beta-out"></output></label><input id="ex-beta" type="range" min="-3" max="3" step="0.05" value="0">
  </div>
  <p class="sub">In a trained network γ and β are learned vectors, one value per feature; here one slider sets all eight.</p>
  <div class="fig" id="ex-fig-y"></div></li>
</ol>`;

  const inputs = Array.from(root.querySelectorAll<HTMLInputElement>(".vec-inputs input"));
  const err = root.querySelector<HTMLElement>("#ex-error")!;
  const g = root.querySelector<HTMLInputElement>("#ex-gamma")!;
  const b = root.querySelector<HTMLInputElement>("#ex-beta")!;
  const set = (id: string, html: string) => void (root.querySelector(`#${id}`)!.innerHTML = html);
  const setScalar = (id: string, v: number) => {
    const o = root.querySelector<HTMLOutputElement>(`#${id}`)!;
    o.dataset.value = String(v);
    o.textContent = num(v);
  };

  let last: ExplainerValues | null = null;
  const draw = (v: ExplainerValues) => {
    const width = fitWidth(root.querySelector("#ex-fig-x")!, 420);
    const chart = (data: number[], label: string, extra: Partial<Parameters<typeof barChart>[1]> = {}) => barChart(data, { label, names, width, ...extra });
    set("ex-fig-x", chart(v.x, "x", { refLine: { value: v.mean, label: `μ = ${num(v.mean)}` } }) + numbers("x", v.x, names));
    set("ex-fig-c", chart(v.centered, "x − μ") + numbers("centered", v.centered, names));
    set("ex-fig-xhat", chart(v.xhat, "x̂, the normalized vector", { range: [Math.min(-2.5, ...v.xhat), Math.max(2.5, ...v.xhat)] }) + numbers("xhat", v.xhat, names));
    set("ex-fig-y", chart(v.y, `y = ${num(v.gamma)}·x̂ + ${num(v.beta)}`, { range: [Math.min(-4, ...v.y), Math.max(4, ...v.y)] }) + numbers("y", v.y, names));
  };
  const render = () => {
    const v = computeExplainer(x, gamma, beta);
    setScalar("ex-mean", v.mean);
    // σ² + ε = 1/rstd²; the float32 rstd leaves σ² with an absolute error of about 1e-7·(σ² + ε)
    setScalar("ex-var", 1 / (v.rstd * v.rstd) - LAYER_NORM_EPS);
    setScalar("ex-std", 1 / v.rstd);
    setScalar("ex-gamma-out", v.gamma);
    setScalar("ex-beta-out", v.beta);
    draw(v);
    last = v;
  };
  onResize(() => last && draw(last));

  const showX = () => inputs.forEach((inp, i) => (inp.value = String(x[i])));
  const readX = (): boolean => {
    const bad: string[] = [];
    const next = inputs.map((inp, i) => {
      const v = inp.valueAsNumber;
      const ok = inp.value.trim() !== "" && Number.isFinite(v);
      inp.setAttribute("aria-invalid", String(!ok));
      if (!ok) bad.push(names[i]);
      return v;
    });
    err.hidden = bad.length === 0;
    err.textContent = bad.length ? `${bad.join(", ")}: enter a finite number (the chart keeps the last valid vector).` : "";
    if (bad.length) return false;
    x = next;
    return true;
  };

  root.querySelectorAll<HTMLButtonElement>("[data-preset]").forEach((btn) =>
    btn.addEventListener("click", () => {
      x = PRESETS[Number(btn.dataset.preset)].values();
      showX();
      readX();
      render();
    }),
  );
  for (const inp of inputs) inp.addEventListener("input", () => readX() && render());
  const onSlider = () => {
    gamma = g.valueAsNumber;
    beta = b.valueAsNumber;
    render();
  };
  g.addEventListener("input", onSlider);
  b.addEventListener("input", onSlider);
  showX();
  render();
}
