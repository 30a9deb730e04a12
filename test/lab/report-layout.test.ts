/**
 * The report as a reader sees it, in headless Chromium at a desktop width (1100 px) and a phone's
 * (390 px): no horizontal scroll; no chart wider than its column; no chart text under 10 px at 100 %
 * zoom; every y axis with at least three tick labels; bars at least 3 px wide; missing bars drawn as their markers; evidence
 * with human labels and formatted numbers. It checks a report made from the fake experiments (which
 * exercise every chart feature), or the one at LAB_REPORT=path/index.html (e.g. a real `npm start`
 * report). LAB_SCREENSHOT_DIR=dir saves a full-page screenshot per width.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { main } from "../../lab/cli.js";
import { fakeExperiments } from "../fixtures/lab-fake-experiments.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found: install Debian's chromium package (CI does) to run the browser test`;

/** Everything measured in the page at one viewport width. */
interface Layout {
  innerWidth: number;
  scrollWidth: number;
  charts: { id: string; svgWidth: number; columnWidth: number; smallestText: number; smallestTextSample: string; yAxes: { label: string; ticks: number }[]; texts: string[]; narrowestBar: number }[];
  evidence: { label: string; value: string }[];
  summaries: string[];
}

/** Runs in the page: the visible SVG of each figure, its text sizes on screen, its axes. */
function measure(): Layout {
  const charts = Array.from(document.querySelectorAll("figure.chart")).map((fig) => {
    const svg = Array.from(fig.querySelectorAll("svg")).find((s) => (s as unknown as HTMLElement).getClientRects().length > 0) as SVGSVGElement | undefined;
    const column = (fig.parentElement as HTMLElement).getBoundingClientRect().width;
    if (svg === undefined) return { id: fig.getAttribute("data-chart-id") ?? "", svgWidth: 0, columnWidth: column, smallestText: 0, smallestTextSample: "(no visible svg)", yAxes: [], texts: [], narrowestBar: Infinity };
    const box = svg.getBoundingClientRect();
    const scale = box.width / (svg.viewBox.baseVal?.width || svg.width.baseVal.value);
    let smallest = Infinity;
    let sample = "";
    const texts: string[] = [];
    for (const t of Array.from(svg.querySelectorAll("text"))) {
      if (!t.textContent?.trim()) continue;
      texts.push(t.textContent.trim());
      const px = parseFloat(getComputedStyle(t).fontSize) * scale;
      if (px < smallest) {
        smallest = px;
        sample = t.textContent.trim();
      }
    }
    // Vega labels each axis group: aria-label "Y-axis titled '…' for a linear scale with values from …"
    const yAxes = Array.from(svg.querySelectorAll("g[aria-roledescription='axis']"))
      .filter((g) => /^Y-axis/.test(g.getAttribute("aria-label") ?? ""))
      .map((g) => ({ label: g.getAttribute("aria-label") ?? "", ticks: g.querySelectorAll("g.role-axis-label text").length }));
    // grouped bars must have a visible width (a scale resolved across facets once drew them 0.25 px wide)
    const bars = Array.from(svg.querySelectorAll("path[aria-roledescription='bar']")).map((b) => (b as SVGGraphicsElement).getBoundingClientRect().width);
    return { id: fig.getAttribute("data-chart-id") ?? "", svgWidth: box.width, columnWidth: column, smallestText: smallest, smallestTextSample: sample, yAxes, texts, narrowestBar: Math.min(Infinity, ...bars) };
  });
  const evidence = Array.from(document.querySelectorAll("table.evidence tr")).map((tr) => ({ label: tr.children[0]?.textContent ?? "", value: tr.children[1]?.textContent ?? "" }));
  const summaries = Array.from(document.querySelectorAll("table.overview tbody tr td:nth-child(3)")).map((td) => td.textContent ?? "");
  return { innerWidth: window.innerWidth, scrollWidth: document.documentElement.scrollWidth, charts, evidence, summaries };
}

test("lab report layout at 1100 px and 390 px: fits, readable text and ticks, markers, human evidence", { skip, timeout: 180_000 }, async (t) => {
  const { chromium } = await import("playwright-core");
  const dir = await mkdtemp(join(tmpdir(), "lab-layout-"));
  const profile = await mkdtemp(join(tmpdir(), "lab-layout-profile-"));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
  try {
    let file = process.env.LAB_REPORT ? resolve(process.env.LAB_REPORT) : null;
    if (file === null) {
      const quiet = { write: () => true };
      const code = await main(["--out", dir], { experiments: fakeExperiments, loadDefaultCorpus: () => ({ text: "fake", name: "fake" }), stdout: quiet, stderr: quiet });
      assert.equal(code, 0);
      file = join(dir, "index.html");
    }
    t.diagnostic(`report: ${file}`);
    const page = await context.newPage();
    for (const width of [1100, 390]) {
      await page.setViewportSize({ width, height: 900 });
      await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
      const m = await page.evaluate(measure);
      if (process.env.LAB_SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.LAB_SCREENSHOT_DIR, `lab-report-${width}.png`), fullPage: true });
      const at = `at ${width} px`;
      assert.ok(m.scrollWidth <= m.innerWidth, `${at}: the page scrolls sideways (${m.scrollWidth} > ${m.innerWidth})`);
      assert.ok(m.charts.length > 0, `${at}: no charts`);
      for (const c of m.charts) {
        assert.ok(c.svgWidth > 0, `${at}: ${c.id} shows no chart`);
        assert.ok(c.svgWidth <= c.columnWidth + 0.5, `${at}: ${c.id} is ${c.svgWidth} px in a ${c.columnWidth} px column`);
        assert.ok(c.smallestText >= 10, `${at}: ${c.id} draws "${c.smallestTextSample}" at ${c.smallestText.toFixed(1)} px`);
        for (const y of c.yAxes) assert.ok(y.ticks >= 3, `${at}: ${c.id} has a y axis with ${y.ticks} tick labels (${y.label})`);
        assert.ok(c.narrowestBar >= 3, `${at}: ${c.id} draws a bar ${c.narrowestBar.toFixed(2)} px wide`);
      }
      // human evidence: no raw keys (camelCase, snake_case), no unformatted long numbers or e-notation
      for (const e of m.evidence) {
        assert.ok(!/\b[a-z]+[A-Z]\w*|_/.test(e.label), `evidence label '${e.label}' is a raw key`);
        assert.ok(!/\d{6,}|\de[+-]?\d/.test(e.value), `evidence '${e.label}' = '${e.value}' is not formatted for people`);
      }
      for (const s of m.summaries) assert.ok(!/\d{6,}|\de[+-]?\d/.test(s), `summary '${s}' has an unformatted number`);
      if (!process.env.LAB_REPORT) {
        // the fixture's missing bars (never reached, diverged) are drawn as words where the bar would be
        const steps = m.charts.find((c) => c.id === "fake-steps")!;
        assert.ok(steps.texts.includes("never") && steps.texts.includes("diverged"), `${at}: missing bars have markers: ${steps.texts.join(", ")}`);
      }
    }
  } finally {
    await context.close();
    await rm(dir, { recursive: true, force: true });
    await rm(profile, { recursive: true, force: true });
  }
});
