/**
 * The web lab's page (bundled to lab-web.js by lab/web/build.ts): says what this browser supports
 * and what changes without it, then mounts the explainer, the batch comparison and the live suite.
 */
import { getBackend, listBackends } from "../../../src/index.js";
import { CSS as REPORT_CSS } from "../../report/html.js";
import { escapeHtml as h } from "../../report/format.js";
import { describeWebGpu } from "../environment.js";
import { mountBatch } from "./batch.js";
import { mountExplainer } from "./explainer.js";
import { mountSuite } from "./suite.js";

/** One line per capability: what is there, and what changes without it. */
async function capabilities(): Promise<{ ok: boolean; text: string }[]> {
  const backend = getBackend();
  const isolated = globalThis.crossOriginIsolated === true;
  const webgpu = await describeWebGpu();
  return [
    backend === "wasm"
      ? { ok: true, text: "WebAssembly SIMD: normkit runs its wasm kernels, the backend npm start uses in Node, so training losses match a Node run bit for bit." }
      : { ok: false, text: `No WebAssembly SIMD: normkit falls back to its ${backend} backend (available: ${listBackends().join(", ")}). Everything works, but losses match a Node run only to rounding, not bitwise.` },
    isolated
      ? { ok: true, text: "Cross-origin isolated: SharedArrayBuffer is available (normkit's worker pool can use worker threads) and timers have full precision." }
      : { ok: false, text: "Not cross-origin isolated (the server sent no COOP/COEP headers): no SharedArrayBuffer, so normkit's worker pool (createPool) runs every call on this thread instead of worker threads, and performance.now() is coarsened (100 µs in Chromium), which makes the timing claim's measurements noisier. The explainer and the training runs are unaffected." },
    webgpu.startsWith("unavailable")
      ? { ok: false, text: `WebGPU ${webgpu}: nothing changes here; the explainer and the lab's experiments all run on the CPU backend above.` }
      : { ok: true, text: `WebGPU adapter: ${webgpu}. Not needed here: the explainer and the lab's experiments run on the CPU backend above.` },
  ];
}

function start(): void {
  // the report's stylesheet first, so the claims look as in lab-report/index.html; style.css refines it
  const style = document.createElement("style");
  style.textContent = REPORT_CSS;
  document.head.prepend(style);

  mountExplainer(document.getElementById("explainer-body")!);
  mountBatch(document.getElementById("batch-body")!);
  mountSuite(document.getElementById("lab-body")!, document.getElementById("claims")!);
  const caps = document.getElementById("caps")!;
  void capabilities().then((list) => {
    caps.innerHTML = list.map((c) => `<li class="${c.ok ? "ok" : "no"}"><span class="mark" aria-hidden="true">${c.ok ? "✓" : "–"}</span> ${h(c.text)}</li>`).join("");
    caps.dataset.ready = "true";
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
