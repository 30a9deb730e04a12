/**
 * The web lab (`npm run lab:web`) end to end in headless Chromium (Debian's chromium, driven by
 * playwright-core, flags as in test/webgpu/chromium.ts): built to a temporary folder, served on
 * 127.0.0.1 with and without the cross-origin-isolation headers.
 * - It loads nothing from outside its own origin and logs no errors.
 * - The explainer: after editing the vector and moving the γ and β sliders, its μ, σ², √(σ²+ε), x̂ and
 *   y match normkit's float64 reference, and are bitwise what normkit's wasm backend gives in Node.
 * - The batch: editing one sample changes the BatchNorm outputs of the other samples but not their
 *   LayerNorm/RMSNorm outputs (bitwise), and all values match the reference.
 * - The live lab: one experiment run in the page's worker gives the verdict, the claim and the training
 *   losses (bitwise) of a Node run of the same experiment and seed (`npm start` through lab/cli.ts),
 *   read from the page's "Download results.json" button.
 * - Without the headers, or without WebGPU, the page says what changes and still runs.
 * LAB_WEB_SCREENSHOT=path.png saves screenshots for the docs: the live lab after its run (path.png) and
 * the batch comparison after the edit (path-batch.png); docs/lab-web.png and docs/lab-web-batch.png.
 * LAB_WEB_EXPERIMENT=id[,id…] runs other experiments (all five: `all`; minutes, not for CI).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { get } from "node:http";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { main } from "../../lab/cli.js";
import { DEFAULT_CORPUS_NAME, loadDefaultCorpus } from "../../lab/corpus/index.js";
import { experiments } from "../../lab/experiments/index.js";
import { fromJson } from "../../lab/report/format.js";
import type { LabResults } from "../../lab/types.js";
import { buildLabWeb, OutDirRefused } from "../../lab/web/build.js";
import { serveLabWeb } from "../../lab/web/serve.js";
import { batchNorm, getBackend, LAYER_NORM_EPS, layerNorm, layerNormForward, reference, RMS_NORM_EPS, rmsNorm, tensor } from "../../src/index.js";
import { CHROMIUM, CHROMIUM_ARGS } from "../webgpu/chromium.js";

const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found: install Debian's chromium package (CI does) to run the web lab test`;

/** The cheapest experiment with training runs (~15 s in Node on the 2-core VM). */
const EXPERIMENT = process.env.LAB_WEB_EXPERIMENT ?? "batchnorm-batch-dependence";
const SEED = 3;
/** claims whose evidence holds wall-clock measurements (compared by verdict only) */
const TIMED = new Set(["rmsnorm-cost"]);
/** the whole suite takes minutes: `all` gets half an hour */
const LONG = EXPERIMENT === "all" ? 1_800_000 : 0;

const close = (got: number, want: number, what: string) =>
  assert.ok(Math.abs(got - want) <= 1e-5 * Math.max(1, Math.abs(want)), `${what}: page ${got}, float64 reference ${want}`);
const sameBits = (got: readonly number[], want: ArrayLike<number>, what: string) =>
  assert.ok(got.length === want.length && got.every((v, i) => Object.is(v, want[i])), `${what}: page [${got.join(", ")}] vs Node [${Array.from(want).join(", ")}]`);

const values = (page: Page, selector: string) =>
  page.$$eval(selector, (els) => els.map((e) => Number((e as HTMLElement).dataset.value)));

function watch(page: Page, origin: string) {
  const problems: string[] = [];
  page.on("console", (m) => void (m.type() === "error" && problems.push(`console: ${m.text()}`)));
  page.on("pageerror", (e) => void problems.push(`page error: ${e.message}`));
  page.on("request", (r) => void (r.url().startsWith(origin) || r.url().startsWith("data:") || r.url().startsWith("blob:") || problems.push(`outside request: ${r.url()}`)));
  return problems;
}

test("web lab in headless Chromium: explainer against the reference, one experiment equal to a Node run, fallbacks", { skip, timeout: 240_000 + LONG }, async (t) => {
  const { chromium } = await import("playwright-core");
  const dir = await mkdtemp(join(tmpdir(), "lab-web-"));
  const profile = await mkdtemp(join(tmpdir(), "lab-web-chromium-"));
  const nodeOut = await mkdtemp(join(tmpdir(), "lab-web-node-"));
  const built = await buildLabWeb(dir);
  for (const f of ["index.html", "lab-web.js", "suite-worker.js", "worker.js", "style.css", "corpus.txt", "build-info.json", "_headers"]) {
    assert.ok(built.files[f] > 0, `the build has ${f}`);
  }
  const isolated = await serveLabWeb(dir, { isolation: true });
  const plain = await serveLabWeb(dir, { isolation: false });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, acceptDownloads: true, viewport: { width: 1100, height: 900 },
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const problems = watch(page, isolated.url);
    await page.goto(isolated.url);
    await page.waitForSelector("#caps[data-ready]");
    await page.waitForSelector('#lab-status[data-state="idle"]');

    await t.test("loads from its own origin only, cross-origin isolated, on the wasm backend", async () => {
      assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), true);
      assert.match(await page.textContent("#caps") ?? "", /Cross-origin isolated/);
      assert.match(await page.textContent("#lab-status") ?? "", /wasm backend/);
      assert.equal(getBackend(), "wasm", "Node runs the wasm backend too (bitwise comparisons below)");
      assert.deepEqual(problems, []);
    });

    await t.test("explainer: edit x, move the γ and β sliders; μ, σ², x̂, y match the float64 reference", async () => {
      await page.fill('.vec-inputs input[data-i="2"]', "-1.25");
      await page.focus("#ex-gamma");
      for (let i = 0; i < 7; i++) await page.keyboard.press("ArrowRight"); // 1 → 1.35, a step is 0.05
      await page.focus("#ex-beta");
      for (let i = 0; i < 10; i++) await page.keyboard.press("ArrowLeft"); // 0 → −0.5
      const x = await values(page, '[data-series="x"] td');
      const [gamma, beta, mean, variance, std] = await Promise.all(["gamma-out", "beta-out", "mean", "var", "std"].map(async (id) => Number(await page.getAttribute(`#ex-${id}`, "data-value"))));
      assert.deepEqual(x, [2, 4, -1.25, 4, 5, 5, 7, 9]);
      assert.equal(gamma, Math.fround(1.35));
      assert.equal(beta, -0.5);
      const D = x.length;
      const mu = x.reduce((s, v) => s + v, 0) / D;
      const v64 = x.reduce((s, v) => s + (v - mu) ** 2, 0) / D;
      close(mean, mu, "μ");
      close(variance, v64, "σ²");
      close(std, Math.sqrt(v64 + LAYER_NORM_EPS), "√(σ² + ε)");
      const w = new Array(D).fill(gamma), b = new Array(D).fill(beta);
      const xhat = await values(page, '[data-series="xhat"] td');
      const y = await values(page, '[data-series="y"] td');
      const xhatRef = reference.rowNormRef(false, x, 1, D, null, null, LAYER_NORM_EPS);
      const yRef = reference.rowNormRef(false, x, 1, D, w, b, LAYER_NORM_EPS);
      xhat.forEach((v, i) => close(v, xhatRef[i], `x̂[${i}]`));
      y.forEach((v, i) => close(v, yRef[i], `y[${i}]`));
      // and they are normkit's own numbers: the same wasm kernels in Node give the same bits
      const xt = tensor(Float32Array.from(x), [1, D]);
      sameBits(xhat, layerNorm(xt, [D]).data, "x̂");
      const fwd = layerNormForward(xt, [D], { weight: tensor(Float32Array.from(w), [D]), bias: tensor(Float32Array.from(b), [D]) });
      sameBits(y, fwd.y.data, "y");
      assert.equal(mean, fwd.mean.data[0]);
      assert.match(await page.getAttribute('#ex-fig-y svg', "aria-label") ?? "", /^y = 1\.35·x̂ \+ −0\.5/);
      // a value that is not a number: said, marked, and the last valid vector stays on screen
      await page.fill('.vec-inputs input[data-i="0"]', "");
      assert.equal(await page.isVisible("#ex-error"), true);
      assert.match(await page.textContent("#ex-error") ?? "", /x1: enter a finite number/);
      assert.equal(await page.getAttribute('.vec-inputs input[data-i="0"]', "aria-invalid"), "true");
      assert.deepEqual(await values(page, '[data-series="y"] td'), y);
      await page.fill('.vec-inputs input[data-i="0"]', "2");
      assert.equal(await page.isVisible("#ex-error"), false);
    });

    await t.test("batch: one sample edited; BatchNorm moves every sample, LayerNorm/RMSNorm only that one; values match the reference", async () => {
      const read = async () => {
        const out: Record<string, number[]> = {};
        for (const n of ["LayerNorm", "RMSNorm", "BatchNorm"]) out[n] = await values(page, `table[data-norm="${n}"] td`);
        return out;
      };
      const before = await read();
      // a malformed sample is refused with a message; nothing changes
      const sample1 = await page.inputValue("#bt-in-0");
      await page.fill("#bt-in-0", "1, 2, three");
      await page.dispatchEvent("#bt-in-0", "change");
      assert.match(await page.textContent("#bt-err") ?? "", /sample 1: expected 6 finite numbers/);
      assert.equal(await page.getAttribute("#bt-in-0", "aria-invalid"), "true");
      assert.deepEqual(await read(), before);
      await page.fill("#bt-in-0", sample1);
      await page.dispatchEvent("#bt-in-0", "change");
      assert.deepEqual(await read(), before, "the same sample again: the same outputs");
      await page.click('button[data-shift="1"]'); // sample 2: every feature + 2
      await page.waitForSelector('#bt-summary:has-text("You changed sample 2")');
      const after = await read();
      const D = 6;
      const rowsOf = (a: number[]) => [0, 1, 2, 3].map((r) => a.slice(r * D, (r + 1) * D));
      for (const n of ["LayerNorm", "RMSNorm", "BatchNorm"]) {
        const [b0, a0] = [rowsOf(before[n]), rowsOf(after[n])];
        for (const r of [0, 2, 3]) {
          const same = b0[r].every((v, i) => Object.is(v, a0[r][i]));
          assert.equal(same, n !== "BatchNorm", `${n}: sample ${r + 1} ${n === "BatchNorm" ? "changes" : "stays bitwise the same"} when sample 2 changes`);
        }
      }
      assert.equal(await page.$$eval('.batch-row[data-row="0"] .fig[data-changed="true"]', (e) => e.length), 1, "sample 1: only BatchNorm marked changed");
      if (process.env.LAB_WEB_SCREENSHOT) await page.locator("#batch").screenshot({ path: process.env.LAB_WEB_SCREENSHOT.replace(/(\.png)?$/, "-batch.png") });
      const x = (await page.$$eval(".batch-edit input", (els) => els.map((e) => (e as HTMLInputElement).value))).flatMap((s) => s.split(",").map(Number));
      assert.equal(x.length, 4 * D);
      const x32 = Float32Array.from(x);
      const refs = {
        LayerNorm: reference.rowNormRef(false, x32, 4, D, null, null, LAYER_NORM_EPS),
        RMSNorm: reference.rowNormRef(true, x32, 4, D, null, null, RMS_NORM_EPS),
        BatchNorm: reference.batchNormRef(x32, 4, D, 1, { training: true, momentum: 0.1, eps: 1e-5 }).y,
      };
      for (const [n, ref] of Object.entries(refs)) after[n].forEach((v, i) => close(v, ref[i], `${n}[${i}]`));
      const xt = tensor(x32, [4, D]);
      sameBits(after.LayerNorm, layerNorm(xt, [D]).data, "LayerNorm");
      sameBits(after.RMSNorm, rmsNorm(xt, [D]).data, "RMSNorm");
      sameBits(after.BatchNorm, batchNorm(xt, { training: true }).data, "BatchNorm");
    });

    await t.test(`live lab: ${EXPERIMENT} at seed ${SEED} gives the verdict and bitwise losses of a Node run`, async (t) => {
      const ids = EXPERIMENT === "all" ? experiments.map((e) => e.id) : EXPERIMENT.split(",");
      await page.fill("#lab-seed", String(SEED));
      await page.$$eval('input[name="exp"]', (boxes, want) => boxes.forEach((b) => ((b as HTMLInputElement).checked = want.includes((b as HTMLInputElement).value))), ids);
      await page.click("#lab-run");
      // the worker has fetched the corpus once an experiment runs; from then on this process may be busy
      await page.waitForSelector('#lab-exps li[data-state="running"]');
      const quiet = { write: () => true };
      const argv = ["--seed", String(SEED), "--out", nodeOut, ...(EXPERIMENT === "all" ? [] : ids.flatMap((id) => ["--experiment", id]))];
      const code = await main(argv, { experiments, loadDefaultCorpus: () => ({ text: loadDefaultCorpus(), name: DEFAULT_CORPUS_NAME }), stdout: quiet, stderr: quiet });
      assert.equal(code, 0, "the Node run succeeds");
      const node = fromJson<LabResults>(await readFile(join(nodeOut, "results.json"), "utf8"));
      await page.waitForSelector('#lab-status[data-state="done"], #lab-status[data-state="failed"]', { timeout: 200_000 + LONG });
      assert.equal(await page.getAttribute("#lab-status", "data-state"), "done", await page.textContent("#lab-status") ?? "");

      const [download] = await Promise.all([page.waitForEvent("download"), page.click("#lab-download-json")]);
      assert.equal(download.suggestedFilename(), "results.json");
      const web = fromJson<LabResults>(await readFile((await download.path())!, "utf8"));

      assert.deepEqual(web.claims.map((c) => [c.id, c.verdict]), node.claims.map((c) => [c.id, c.verdict]), "same verdicts");
      const shown = await page.$$eval("#claims section.claim", (s) => s.map((e) => [e.getAttribute("data-claim-id"), e.querySelector(".badge")?.getAttribute("data-verdict")]));
      assert.deepEqual(shown, node.claims.map((c) => [c.id, c.verdict]), "the page shows each claim with its verdict");
      assert.ok((await page.$$eval("#claims figure.chart svg", (s) => s.length)) >= 1, "the claim's charts are drawn");
      assert.ok(web.runs.length > 0 && web.runs.length === node.runs.length, `same number of training runs (${web.runs.length} vs ${node.runs.length})`);
      web.runs.forEach((r, i) => {
        const n = node.runs[i];
        assert.deepEqual(r.config, n.config, `run ${i}: same configuration`);
        assert.equal(r.seed, n.seed);
        sameBits(r.losses, n.losses, `run ${i} (${JSON.stringify(r.config)}) losses`);
        assert.ok(Object.is(r.finalLoss, n.finalLoss) && Object.is(r.evalLoss, n.evalLoss) && r.diverged === n.diverged, `run ${i}: same final/held-out loss`);
      });
      // wall-clock seconds aside, results.json is the same: the claims (evidence, chart data) and the runs
      const untimed = (runs: LabResults["runs"]) => runs.map(({ seconds: _s, ...rest }) => rest);
      assert.deepEqual(untimed(web.runs), untimed(node.runs));
      web.claims.forEach((c, i) => {
        if (!TIMED.has(c.id)) assert.deepEqual(c, node.claims[i], `claim ${c.id}`);
      });
      t.diagnostic(`${web.claims.length} claim(s), ${web.runs.length} training runs with bitwise equal losses; page ${web.environment.totalSeconds} s, Node ${node.environment.totalSeconds} s`);
      for (const k of ["seed", "mode", "command", "corpus", "corpusChars", "experiments", "normkit", "backend"]) {
        assert.equal(web.environment[k], node.environment[k], `environment.${k}`);
      }
      assert.equal(web.environment.crossOriginIsolated, true);
      assert.deepEqual(problems, []);
      if (process.env.LAB_WEB_SCREENSHOT) await page.locator("#lab").screenshot({ path: process.env.LAB_WEB_SCREENSHOT });
    });

    await t.test("without cross-origin isolation: the page says what changes, the explainer and the suite still work", async () => {
      const p2 = await context.newPage();
      const problems2 = watch(p2, plain.url);
      await p2.goto(plain.url);
      await p2.waitForSelector("#caps[data-ready]");
      await p2.waitForSelector('#lab-status[data-state="idle"]');
      assert.equal(await p2.evaluate(() => globalThis.crossOriginIsolated), false);
      assert.match(await p2.textContent("#caps") ?? "", /Not cross-origin isolated.*no SharedArrayBuffer.*createPool/s);
      await p2.fill("#ex-beta", "1");
      const y = await values(p2, '[data-series="y"] td');
      const x = await values(p2, '[data-series="x"] td');
      const yRef = reference.rowNormRef(false, x, 1, x.length, null, new Array(x.length).fill(1), LAYER_NORM_EPS);
      y.forEach((v, i) => close(v, yRef[i], `y[${i}] without isolation`));
      // the suite's worker starts (it listed the experiments) and runs the quickest one
      await p2.$$eval('input[name="exp"]', (boxes) => boxes.forEach((b) => ((b as HTMLInputElement).checked = (b as HTMLInputElement).value === "per-sample-inference")));
      await p2.click("#lab-run");
      await p2.waitForSelector('#lab-status[data-state="done"], #lab-status[data-state="failed"]', { timeout: 60_000 });
      assert.equal(await p2.getAttribute("#lab-status", "data-state"), "done", await p2.textContent("#lab-status") ?? "");
      assert.equal(await p2.$eval('#claims section.claim .badge', (e) => e.getAttribute("data-verdict")), "reproduced");
      // Stop mid-run, then run again: a fresh worker, and only the new run's claim on the page
      await p2.$$eval('input[name="exp"]', (boxes) => boxes.forEach((b) => ((b as HTMLInputElement).checked = (b as HTMLInputElement).value === "stable-training")));
      await p2.click("#lab-run");
      await p2.waitForSelector('#lab-exps li[data-state="running"]');
      await p2.click("#lab-stop");
      assert.equal(await p2.getAttribute("#lab-status", "data-state"), "stopped");
      assert.equal(await p2.$$eval("#claims section.claim", (e) => e.length), 0);
      await p2.$$eval('input[name="exp"]', (boxes) => boxes.forEach((b) => ((b as HTMLInputElement).checked = (b as HTMLInputElement).value === "per-sample-inference")));
      await p2.click("#lab-run");
      await p2.waitForSelector('#lab-status[data-state="done"], #lab-status[data-state="failed"]', { timeout: 60_000 });
      assert.equal(await p2.getAttribute("#lab-status", "data-state"), "done");
      assert.deepEqual(await p2.$$eval("#claims section.claim", (e) => e.map((x) => x.getAttribute("data-claim-id"))), ["per-sample-inference"]);
      // no seed, no experiment: said, and nothing starts
      await p2.fill("#lab-seed", "-1");
      await p2.click("#lab-run");
      assert.match(await p2.textContent("#lab-err") ?? "", /seed must be a non-negative integer/);
      assert.equal(await p2.getAttribute("#lab-status", "data-state"), "done");
      assert.deepEqual(problems2, []);
      await p2.close();
    });

    await t.test("without WebGPU: the page says so and works the same", async () => {
      const args = [...CHROMIUM_ARGS.filter((a) => a !== "--enable-unsafe-webgpu"), "--disable-features=WebGPU"];
      const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args });
      try {
        const p3 = await browser.newPage();
        const problems3 = watch(p3, isolated.url);
        await p3.goto(isolated.url);
        await p3.waitForSelector("#caps[data-ready]");
        await p3.waitForSelector('#lab-status[data-state="idle"]');
        assert.match(await p3.textContent("#caps") ?? "", /WebGPU unavailable \((no adapter|no navigator\.gpu)\): nothing changes here/);
        const x = await values(p3, '[data-series="x"] td');
        const y = await values(p3, '[data-series="y"] td');
        reference.rowNormRef(false, x, 1, x.length, null, null, LAYER_NORM_EPS).forEach((r, i) => close(y[i], r, `y[${i}] without WebGPU`));
        assert.deepEqual(problems3, []);
      } finally {
        await browser.close();
      }
    });
  } finally {
    await context.close();
    isolated.server.close();
    plain.server.close();
    await Promise.all([dir, profile, nodeOut].map((d) => rm(d, { recursive: true, force: true })));
  }
});

test("web lab build and server: refuses to replace a foreign folder; headers, paths and methods", async () => {
  const foreign = await mkdtemp(join(tmpdir(), "lab-web-foreign-"));
  const parent = await mkdtemp(join(tmpdir(), "lab-web-out-"));
  const out = join(parent, "site");
  /** GET with the path sent as written (fetch would resolve the dot segments itself) */
  const raw = (url: string, path: string) =>
    new Promise<number>((ok, fail) => {
      const u = new URL(url);
      get({ host: u.hostname, port: u.port, path }, (res) => ok(res.resume().statusCode ?? 0)).on("error", fail);
    });
  try {
    await writeFile(join(parent, "secret.txt"), "outside the site");
    await writeFile(join(foreign, "keep.txt"), "mine");
    await assert.rejects(buildLabWeb(foreign), (e: Error) => e instanceof OutDirRefused && e.message.includes(foreign));
    assert.equal(await readFile(join(foreign, "keep.txt"), "utf8"), "mine", "nothing was deleted");
    await buildLabWeb(out);
    await buildLabWeb(out); // an earlier build is replaced
    for (const isolation of [true, false]) {
      const { server, url } = await serveLabWeb(out, { isolation });
      try {
        const page = await fetch(url);
        assert.equal(page.status, 200);
        assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
        assert.equal(page.headers.get("cross-origin-opener-policy"), isolation ? "same-origin" : null);
        assert.equal(page.headers.get("cross-origin-embedder-policy"), isolation ? "require-corp" : null);
        assert.match((await fetch(url + "suite-worker.js")).headers.get("content-type") ?? "", /^text\/javascript/);
        for (const path of ["/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "//../secret.txt"]) {
          assert.equal(await raw(url, path), 404, `no way out of the folder: ${path}`);
        }
        assert.equal(await raw(url, "/build-info.json"), 200);
        assert.equal((await fetch(url + "missing.js")).status, 404);
        assert.equal((await fetch(url + "%E0%A4%A")).status, 400, "a malformed escape");
        assert.equal((await fetch(url, { method: "POST", body: "x" })).status, 405);
      } finally {
        server.close();
      }
    }
  } finally {
    await Promise.all([foreign, parent].map((d) => rm(d, { recursive: true, force: true })));
  }
});
