/**
 * GPU timing for bench/gpu.ts: timestamp queries around compute passes, and the check that the
 * timestamps are fine enough to time a kernel.
 *
 * Dawn quantizes timestamp queries by default (its `timestamp_quantization` toggle, a browser
 * side-channel defence): in dawn.node every timestamp is a multiple of 65536 ns, measured with
 * SwiftShader here (`timestampGridNs`). A normalization kernel on an H100 takes 20–100 µs, so
 * quantized begin/end stamps make its time 0, 65.5 or 131 µs: a 40 µs kernel at [16384, 768]
 * reads as 65.5 µs ≈ 1.5 TB/s whatever it really does. The benchmark therefore asks Dawn for
 * unquantized stamps (BENCH_DAWN_OPTIONS), checks what it got, and where stamps stay coarse
 * (a Dawn that ignores the toggle, or a browser) times batches of dispatches per pass instead.
 */
import type { GpuBackend } from "../src/webgpu-node.js";

/** Dawn options of the benchmark's device: nanosecond timestamps. */
export const BENCH_DAWN_OPTIONS: readonly string[] = ["disable-dawn-features=timestamp_quantization"];

/**
 * Per-repetition times (ms) of the work `record(enc, i, qs)` encodes for repetition i. With
 * timestamps, `record` writes query 2i before and 2i + 1 after its work, and the times are read
 * back from the query set; without them (qs = null), the wall time of one submit of all
 * repetitions is divided evenly.
 */
export async function timeReps(
  gpu: GpuBackend, reps: number, record: (enc: GPUCommandEncoder, i: number, qs: GPUQuerySet | null) => void,
): Promise<number[]> {
  const dev = gpu.device;
  const enc = dev.createCommandEncoder();
  if (!gpu.hasTimestamps) {
    for (let i = 0; i < reps; i++) record(enc, i, null);
    const t0 = performance.now();
    dev.queue.submit([enc.finish()]);
    await dev.queue.onSubmittedWorkDone();
    return Array(reps).fill((performance.now() - t0) / reps);
  }
  const t = await stamps(gpu, 2 * reps, (e, qs) => {
    for (let i = 0; i < reps; i++) record(e, i, qs);
  }, enc);
  return Array.from({ length: reps }, (_, i) => Number(t[2 * i + 1]! - t[2 * i]!) / 1e6);
}

/** The raw timestamps (ns) of `count` queries that `record` writes. */
async function stamps(
  gpu: GpuBackend, count: number, record: (enc: GPUCommandEncoder, qs: GPUQuerySet) => void,
  enc = gpu.device.createCommandEncoder(),
): Promise<BigUint64Array> {
  const dev = gpu.device;
  const qs = dev.createQuerySet({ type: "timestamp", count });
  const resolve = dev.createBuffer({ size: 8 * count, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = dev.createBuffer({ size: 8 * count, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  record(enc, qs);
  enc.resolveQuerySet(qs, 0, count, resolve, 0);
  enc.copyBufferToBuffer(resolve, 0, read, 0, 8 * count);
  dev.queue.submit([enc.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const t = new BigUint64Array(read.getMappedRange().slice(0));
  read.unmap();
  for (const o of [qs, resolve, read]) o.destroy();
  return t;
}

/**
 * The grid (ns) the device's timestamps fall on: the largest power of two dividing all of 32
 * stamps (65536 when Dawn quantizes; a few ns when it does not), or null without timestamps.
 */
export async function timestampGridNs(gpu: GpuBackend): Promise<number | null> {
  if (!gpu.hasTimestamps) return null;
  const n = 32;
  const t = await stamps(gpu, n, (enc, qs) => {
    for (let i = 0; i < n; i += 2) enc.beginComputePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: i, endOfPassWriteIndex: i + 1 } }).end();
  });
  let grid = 1n << 40n;
  for (const v of t) {
    if (v === 0n) continue;
    let g = 1n;
    while (v % (g * 2n) === 0n && g < grid) g *= 2n;
    if (g < grid) grid = g;
  }
  return Number(grid);
}

/**
 * Per-dispatch times (ms) of `encode`, `perPass` copies of it inside each of `reps` timestamped
 * compute passes (perPass > 1 where timestamps are coarse: the pass then spans many quanta).
 */
export function timePasses(gpu: GpuBackend, encode: (pass: GPUComputePassEncoder) => void, reps: number, perPass = 1): Promise<number[]> {
  return timeReps(gpu, reps, (enc, i, qs) => {
    const p = enc.beginComputePass(qs ? { timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } } : {});
    for (let k = 0; k < perPass; k++) encode(p);
    p.end();
  }).then((t) => t.map((v) => v / perPass));
}

/**
 * copyBufferToBuffer times (ms): `perPass` copies between the end of one timestamped pass and the
 * start of the next (a copy cannot carry timestamps itself).
 */
export function timeCopies(gpu: GpuBackend, src: GPUBuffer, dst: GPUBuffer, bytes: number, reps: number, perPass = 1): Promise<number[]> {
  return timeReps(gpu, reps, (enc, i, qs) => {
    if (qs) enc.beginComputePass({ timestampWrites: { querySet: qs, endOfPassWriteIndex: 2 * i } }).end();
    for (let k = 0; k < perPass; k++) enc.copyBufferToBuffer(src, 0, dst, 0, bytes);
    if (qs) enc.beginComputePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 2 * i + 1 } }).end();
  }).then((t) => t.map((v) => v / perPass));
}
