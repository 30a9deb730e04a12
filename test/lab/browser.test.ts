/**
 * Opens a generated report in headless Chromium (Debian's chromium, driven by playwright-core) and
 * checks what a reader sees: every chart drew data marks at a non-zero size, every claim shows a
 * verdict, nothing was fetched from outside the file, no console errors. Skips when Chromium is absent.
 * LAB_SCREENSHOT=path.png saves a full-page screenshot for a human look.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { main } from "../../lab/cli.js";
import { fromJson } from "../../lab/report/format.js";
import type { ClaimResult, LabResults } from "../../lab/types.js";
import { fakeExperiments } from "../fixtures/lab-fake-experiments.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];

const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found: install Debian's chromium package (CI does) to run the browser test`;

test("lab report renders in headless Chromium: every chart drawn, every claim has a verdict", { skip, timeout: 120_000 }, async () => {
  const { chromium } = await import("playwright-core");
  const dir = await mkdtemp(join(tmpdir(), "lab-browser-"));
  const profile = await mkdtemp(join(tmpdir(), "lab-chromium-profile-"));
  const quiet = { write: () => true };
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1100, height: 900 } });
  try {
    const code = await main(["--out", dir], { experiments: fakeExperiments, loadDefaultCorpus: () => ({ text: "fake", name: "fake" }), stdout: quiet, stderr: quiet });
    assert.equal(code, 0);
    const results = fromJson<LabResults>(await readFile(join(dir, "results.json"), "utf8"));
    const url = pathToFileURL(join(dir, "index.html")).href;

    const page = await context.newPage();
    const requests: string[] = [];
    const problems: string[] = [];
    page.on("request", (r) => void requests.push(r.url()));
    page.on("console", (m) => void (m.type() === "error" && problems.push(m.text())));
    page.on("pageerror", (e) => void problems.push(e.message));
    await page.goto(url, { waitUntil: "load" });

    assert.equal(await page.title(), "normkit lab report");
    assert.deepEqual(requests, [url], "the report loads nothing but itself");
    assert.deepEqual(problems, []);

    const charts = await page.$$eval("figure.chart", (figs) =>
      figs.map((f) => {
        const svg = f.querySelector("svg");
        const box = svg?.getBoundingClientRect();
        // data marks (role-mark), not axes or legends; each must occupy some area on screen
        const marks = svg ? Array.from(svg.querySelectorAll("g.role-mark > *")) : [];
        const visible = marks.filter((m) => {
          const b = (m as SVGGraphicsElement).getBBox();
          return b.width > 0 || b.height > 0;
        });
        return { id: f.getAttribute("data-chart-id"), w: box?.width ?? 0, h: box?.height ?? 0, marks: marks.length, visible: visible.length };
      }),
    );
    const expected = (results.claims as Partial<ClaimResult>[]).flatMap((c) => (c.charts ?? []).map((s) => s.id));
    assert.deepEqual(charts.map((c) => c.id), expected, "one rendered figure per chart in results.json");
    for (const c of charts) {
      assert.ok(c.w > 100 && c.h > 100, `${c.id}: svg is ${c.w}×${c.h}`);
      assert.ok(c.visible > 0, `${c.id}: ${c.marks} data marks, ${c.visible} visible`);
    }

    const claims = await page.$$eval("section.claim", (secs) =>
      secs.map((s) => ({ id: s.getAttribute("data-claim-id"), verdict: s.querySelector(".verdict-box .badge")?.textContent, rule: s.querySelector(".verdict-box .rule")?.textContent ?? "", visible: (s as HTMLElement).offsetHeight > 0 })),
    );
    assert.deepEqual(claims.map((c) => [c.id, c.verdict]), results.claims.map((c) => [c.id, c.verdict]));
    for (const c of claims) {
      assert.ok(c.visible);
      assert.ok(c.rule.startsWith("Rule:") && c.rule.length > 10, `${c.id} states its rule`);
    }
    const overview = await page.$$eval("table.overview tbody tr", (rows) => rows.map((r) => r.querySelector(".badge")?.textContent));
    assert.deepEqual(overview, results.claims.map((c) => c.verdict));

    if (process.env.LAB_SCREENSHOT) await page.screenshot({ path: process.env.LAB_SCREENSHOT, fullPage: true });
  } finally {
    await context.close();
    await rm(dir, { recursive: true, force: true });
    await rm(profile, { recursive: true, force: true });
  }
});
