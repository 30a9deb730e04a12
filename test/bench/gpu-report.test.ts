/** bench/gpu-report.ts: the GPU benchmark's Markdown and its verdicts on the targets. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { copyLimit, gpuMarkdown, targets, type GpuResults } from "../../bench/gpu-report.js";

/** A made-up result: one shape, copy limit 2000 GB/s; normkit forward 1800 GB/s, backward 1.5× PyTorch. */
function result(torch: boolean): GpuResults {
  const shape: [number, number] = [16384, 768];
  return {
    when: "2026-11-26T12:00:00.000Z", device: "nvidia hopper NVIDIA H100 80GB HBM3", software: false, note: "GPU", quick: false,
    iters: 30, timestamps: true, timestampGridNs: 1, perPass: 1, subgroupSize: 32, dawnOptions: ["disable-dawn-features=timestamp_quantization"], node: "v20",
    copies: [{ shape, bytes: 50331648, copyBufferGBs: 1900, copyBufferColdGBs: 900, copyBufferWallGBs: 400, copyKernelGBs: 2000 }],
    kernels: [
      { shape, op: "layerNorm", dir: "forward", variant: "default", isDefault: true, ms: 0.056, gbs: 1800 },
      { shape, op: "layerNorm", dir: "forward", variant: "wg-row", isDefault: false, ms: 0.05, gbs: 2016 },
      { shape, op: "layerNorm", dir: "forward", variant: "default, Dawn robustness off", isDefault: false, ms: 0.04, gbs: 2500 },
      { shape, op: "layerNorm", dir: "backward", variant: "default", isDefault: true, ms: 0.15, gbs: 1000 },
    ],
    groupNorm: [{ shape: [2, 320, 4096, 32], dir: "forward", ms: 0.012, gbs: 1750, copyGBs: 2000 }],
    torch: torch
      ? { device: "NVIDIA H100 80GB HBM3", torch: "2.5.1", rows: [
        { shape, op: "layerNorm", dir: "forward", ms: 0.06, gbs: 1680 },
        { shape, op: "layerNorm", dir: "backward", ms: 0.1, gbs: 1500 },
      ], groupNorm: [{ shape: [2, 320, 4096, 32], dir: "forward", ms: 0.024, gbs: 875 }] }
      : { skipped: "torch has no CUDA device" },
  };
}

test("GPU targets: forward ≥ 85% of the copy limit and ≤ PyTorch's time, backward ≤ 1.2× PyTorch", () => {
  const r = result(true);
  assert.equal(copyLimit(r, [16384, 768]), 2000);
  const t = targets(r);
  const get = (dir: string, target: string) => t.find((x) => x.dir === dir && x.target === target)!;
  assert.equal(get("forward", "≥ 85% of copy").met, true); // 1800 / 2000 = 90%
  assert.ok(Math.abs(get("forward", "≥ 85% of copy").value! - 0.9) < 1e-12);
  assert.equal(get("forward", "time ≤ PyTorch").met, true); // 0.056 ≤ 0.06
  assert.equal(get("backward", "time ≤ 1.2× PyTorch").met, false); // 1.5×
  // without PyTorch the comparisons are "not measured", never met
  const n = targets(result(false));
  assert.equal(n.find((x) => x.target === "time ≤ PyTorch")!.met, null);
  assert.equal(n.find((x) => x.target === "≥ 85% of copy")!.met, true);
});

test("GPU report: names the GPU, Dawn options and timestamp grid, puts PyTorch beside normkit, lists misses", () => {
  const md = gpuMarkdown(result(true));
  assert.match(md, /NVIDIA H100 80GB HBM3/);
  assert.match(md, /disable-dawn-features=timestamp_quantization/);
  assert.match(md, /1 ns grid/);
  assert.match(md, /PyTorch 2\.5\.1 on NVIDIA H100/);
  assert.match(md, /\| \[16384, 768\] \| layerNorm \| forward \| 56\.0 µs \| 1800 \| 90% \| 60\.0 µs \| 1680 \| 0\.93× \| wg-row: 50\.0 µs \| 40\.0 µs \|/);
  assert.match(md, /2 met, 1 missed, 0 not measured/);
  assert.match(md, /\| layerNorm backward \| \[16384, 768\] \| time ≤ 1\.2× PyTorch \| 1\.50× \|/);
  assert.match(md, /\| \[2, 320, 4096\], 32 \| forward \| 12\.0 µs \| 1750 \| 88% \| 24\.0 µs \| 875 \| 0\.50× \|/);
  assert.match(gpuMarkdown(result(false)), /PyTorch: skipped \(torch has no CUDA device\)/);
});

test("bench/torch_gpu.py runs end to end on the CPU (NORMKIT_TORCH_DEVICE=cpu self-test): every op and GroupNorm, both directions", (t) => {
  const py = process.env.NORMKIT_BENCH_PYTHON ?? "/usr/bin/python3";
  const probe = spawnSync(py, ["-c", "import torch"], { encoding: "utf8" });
  if (probe.status !== 0) return t.skip(`${py} has no torch`);
  const script = fileURLToPath(new URL("../../../bench/torch_gpu.py", import.meta.url));
  const cfg = { shapes: [[64, 96], [33, 100]], gn_shapes: [[2, 32, 64, 8]], iters: 3, warmup: 1 };
  const r = spawnSync(py, [script, JSON.stringify(cfg)], { encoding: "utf8", env: { ...process.env, NORMKIT_TORCH_DEVICE: "cpu" } });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
  const ops = out.rms_norm ? 2 : 1;
  assert.equal(out.rows.length, cfg.shapes.length * ops * 2);
  for (const row of [...out.rows, ...out.groupNorm]) assert.ok(row.ms > 0 && row.gbs > 0, JSON.stringify(row));
  assert.deepEqual(out.groupNorm.map((g: { dir: string }) => g.dir), ["forward", "backward"]);
});
