/**
 * Section 2: one small batch through LayerNorm, RMSNorm and BatchNorm (training mode), side by
 * side, computed by normkit in the page. Editing one sample shows the difference that matters:
 * LayerNorm and RMSNorm outputs of the other samples stay bitwise the same (each row is normalized
 * on its own), while BatchNorm's change (each feature is normalized with the whole batch's mean and
 * variance). Changed outputs get an orange frame and are listed in words.
 */
import { batchNorm, layerNorm, rmsNorm, tensor } from "../../../src/index.js";
import { escapeHtml as h } from "../../report/format.js";
import { barChart, fitWidth, num, onResize } from "./svg.js";

const B = 4;
const D = 6;
const NORMS = ["LayerNorm", "RMSNorm", "BatchNorm"] as const;
type NormName = (typeof NORMS)[number];

export type BatchOutputs = Record<NormName, number[][]>;

/** Each norm's output rows for a B × D batch, without affine parameters (γ = 1, β = 0). */
export function computeBatch(rows: readonly (readonly number[])[]): BatchOutputs {
  const x = tensor(Float32Array.from(rows.flat()), [rows.length, rows[0].length]);
  const split = (a: Float32Array) => rows.map((_, r) => Array.from(a.subarray(r * D, (r + 1) * D)));
  return {
    LayerNorm: split(layerNorm(x, [D]).data),
    RMSNorm: split(rmsNorm(x, [D]).data),
    BatchNorm: split(batchNorm(x, { training: true }).data),
  };
}

const START: number[][] = [
  [1.5, -0.5, 2, 0.3, -1.2, 0.8],
  [3, 2.5, 4, 3.2, 2.8, 3.6],
  [-2, 0.5, -1, 1.5, -0.3, 0.2],
  [0.4, -0.1, 0.9, -0.6, 0.2, 0.7],
];

const sameBits = (a: readonly number[], b: readonly number[]) => a.every((v, i) => Object.is(v, b[i]));

export function mountBatch(root: HTMLElement): void {
  let rows = START.map((r) => [...r]);
  let before: BatchOutputs | null = null;
  let edited: number | null = null;
  const features = Array.from({ length: D }, (_, i) => `f${i + 1}`);

  root.innerHTML = `
<p>Four samples with six features each. <strong>LayerNorm</strong> and <strong>RMSNorm</strong> normalize each sample
(a row) over its own features; <strong>BatchNorm</strong> in training mode normalizes each feature (a column) over the
samples in the batch. Change one sample and see which outputs move: changed outputs get an
<span class="swatch changed" aria-hidden="true"></span> orange frame.</p>
<div class="batch-grid" role="table" aria-label="Batch inputs and the outputs of each normalization">
<div role="row" class="batch-head"><span role="columnheader">sample (edit)</span><span role="columnheader">input</span>${NORMS.map((n) => `<span role="columnheader">${n}${n === "BatchNorm" ? " (training)" : ""}</span>`).join("")}</div>
${rows
  .map(
    (_, r) => `<div role="row" class="batch-row" data-row="${r}">
<span role="cell" class="batch-edit"><label for="bt-in-${r}">sample ${r + 1}</label>
<input id="bt-in-${r}" data-row="${r}" type="text" inputmode="decimal" spellcheck="false" aria-describedby="bt-err">
<button type="button" data-shift="${r}" aria-label="add 2 to every feature of sample ${r + 1}">+2</button>
<button type="button" data-scale="${r}" aria-label="multiply sample ${r + 1} by 3">×3</button>
<button type="button" data-random="${r}" aria-label="random values for sample ${r + 1}">random</button></span>
<span role="cell" class="fig" data-fig="input-${r}" data-label="input"></span>
${NORMS.map((n) => `<span role="cell" class="fig" data-fig="${n}-${r}" data-label="${n}"></span>`).join("")}
</div>`,
  )
  .join("")}
</div>
<p class="err" id="bt-err" role="alert" hidden></p>
<p class="verdict-line" id="bt-summary" aria-live="polite"></p>
<details><summary>All output values</summary><div id="bt-numbers"></div></details>`;

  const inputs = Array.from(root.querySelectorAll<HTMLInputElement>("input[data-row]"));
  const err = root.querySelector<HTMLElement>("#bt-err")!;
  const fig = (key: string) => root.querySelector<HTMLElement>(`[data-fig="${key}"]`)!;

  let out: BatchOutputs = computeBatch(rows);
  const changedRows: Record<NormName, boolean[]> = { LayerNorm: [], RMSNorm: [], BatchNorm: [] };
  const draw = () => {
    const width = fitWidth(fig("input-0"), 220, 80);
    const height = Math.round(width / 2);
    const small = { names: features, width, height, values: false, axisLabels: false };
    const inLim = Math.max(2.5, ...rows.flat().filter(Number.isFinite).map(Math.abs));
    rows.forEach((row, r) => {
      const inCell = fig(`input-${r}`);
      inCell.classList.toggle("changed", edited === r);
      inCell.innerHTML = barChart(row, { ...small, label: `sample ${r + 1} input${edited === r ? " (edited)" : ""}`, range: [-inLim, inLim] }) + (edited === r ? `<span class="tag">edited</span>` : "");
      for (const n of NORMS) {
        const changed = changedRows[n][r] === true;
        const el = fig(`${n}-${r}`);
        el.classList.toggle("changed", changed);
        el.dataset.changed = String(changed);
        el.innerHTML =
          barChart(out[n][r], { ...small, label: `${n} output of sample ${r + 1}${changed ? " (changed)" : ""}`, range: [-2.5, 2.5] }) +
          (changed ? `<span class="tag">changed</span>` : "");
      }
    });
  };
  onResize(draw);

  const render = () => {
    out = computeBatch(rows);
    for (const n of NORMS) changedRows[n] = out[n].map((row, r) => before !== null && !sameBits(before[n][r], row));
    draw();
    root.querySelector("#bt-numbers")!.innerHTML = NORMS.map(
      (n) => `<table class="nums" data-norm="${n}"><caption>${n}</caption><tr><th scope="col">sample</th>${features.map((f) => `<th scope="col">${f}</th>`).join("")}</tr>` +
        out[n].map((row, r) => `<tr><th scope="row">${r + 1}</th>${row.map((v) => `<td data-value="${v}">${h(num(v))}</td>`).join("")}</tr>`).join("") + "</table>",
    ).join("");
    const summary = root.querySelector<HTMLElement>("#bt-summary")!;
    if (before === null || edited === null) {
      summary.textContent = "Edit a sample (or press +2, ×3, random) to see which outputs change.";
    } else {
      const moved = (n: NormName) => out[n].map((row, r) => (sameBits(before![n][r], row) ? null : r + 1)).filter((r): r is number => r !== null);
      const say = (n: NormName) => {
        const m = moved(n);
        if (m.length === 0) return `${n}: no output changed`;
        const others = m.filter((r) => r !== edited! + 1).length;
        const delta = Math.max(...out[n].flatMap((row, r) => row.map((v, i) => Math.abs(v - before![n][r][i]))));
        // +2 or ×3 barely moves a row norm's output: it ignores a row's scale (and LayerNorm its offset)
        const why = others === 0 && delta < 1e-3 ? ` (only through ε and rounding: ${n === "LayerNorm" ? "LayerNorm ignores a sample's offset and scale" : "RMSNorm ignores a sample's scale"})` : "";
        return `${n}: sample${m.length > 1 ? "s" : ""} ${m.join(", ")} changed${others > 0 ? ` (${others} other${others > 1 ? "s" : ""} than the one you edited)` : ""}, by up to ${num(delta)}${why}`;
      };
      summary.textContent = `You changed sample ${edited + 1}. ${NORMS.map(say).join(". ")}.`;
    }
    before = out;
  };

  const showRow = (r: number) => (inputs[r].value = rows[r].map((v) => String(v)).join(", "));
  const edit = (r: number, next: number[]) => {
    rows[r] = next;
    edited = r;
    showRow(r);
    err.hidden = true;
    inputs[r].setAttribute("aria-invalid", "false");
    render();
  };
  inputs.forEach((inp, r) => {
    showRow(r);
    inp.addEventListener("change", () => {
      const parts = inp.value.split(/[\s,;]+/).filter((s) => s !== "");
      const vals = parts.map(Number);
      if (vals.length !== D || vals.some((v) => !Number.isFinite(v))) {
        inp.setAttribute("aria-invalid", "true");
        err.hidden = false;
        err.textContent = `sample ${r + 1}: expected ${D} finite numbers separated by commas, got "${inp.value}"; the outputs still show the last valid batch.`;
        return;
      }
      edit(r, vals);
    });
  });
  const round = (v: number) => Number(v.toFixed(2));
  root.querySelectorAll<HTMLButtonElement>("[data-shift]").forEach((btn) => btn.addEventListener("click", () => { const r = Number(btn.dataset.shift); edit(r, rows[r].map((v) => round(v + 2))); }));
  root.querySelectorAll<HTMLButtonElement>("[data-scale]").forEach((btn) => btn.addEventListener("click", () => { const r = Number(btn.dataset.scale); edit(r, rows[r].map((v) => round(v * 3))); }));
  root.querySelectorAll<HTMLButtonElement>("[data-random]").forEach((btn) => btn.addEventListener("click", () => { const r = Number(btn.dataset.random); edit(r, rows[r].map(() => round(Math.random() * 6 - 3))); }));
  render();
}
