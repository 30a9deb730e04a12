/**
 * One thread's part of an issue #12 pool call (protocol.ts JobBody): the same wasm job loops as the
 * synchronous backend (src/backends/wasm/jobs-*.ts) on this thread's rows or channels. Run by the
 * calling thread on its own share and by each worker (src/pool/worker.ts) on the job it decoded.
 */
import type { WasmRuntime } from "../backends/wasm/runtime.js";
import { channelApplyJob, channelBackwardJob, channelStatsJob } from "../backends/wasm/jobs-channels.js";
import { rowsBackwardJob, rowsJob } from "../backends/wasm/jobs-rows.js";
import type { JobBody } from "./protocol.js";

export function runJob(rt: WasmRuntime, j: JobBody): void {
  try {
    switch (j.kind) {
      case "rows":
        rowsJob(rt, j.job, j.r0, j.r1);
        return;
      case "rowsBackward":
        if (j.stats !== null) rowsJob(rt, j.stats, j.r0, j.r1);
        rowsBackwardJob(rt, j.job, j.r0, j.r1);
        return;
      case "channelStats":
        channelStatsJob(rt, j.x, j.N, j.C, j.S, j.mean, j.variance, j.c0, j.c1);
        return;
      case "channelApply":
        channelApplyJob(rt, j.job, j.c0, j.c1);
        return;
      case "channelBackward":
        channelBackwardJob(rt, j.job, j.c0, j.c1);
    }
  } finally {
    rt.trim(); // after a one-off very wide row, give its memory back
  }
}
