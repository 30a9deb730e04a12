/**
 * The web lab's results.json `environment`: the browser in place of Node's machine fields, then the
 * run's own fields exactly as `npm start` writes them (lab/run-info.ts). Runs in the page's worker.
 */
import { getBackend, listBackends } from "../../src/index.js";
import { runEnvironment, type RunInfo } from "../run-info.js";

interface NavigatorLike {
  userAgent?: string;
  platform?: string;
  hardwareConcurrency?: number;
  deviceMemory?: number;
  gpu?: { requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string; description?: string } } | null> };
}

const nav = (): NavigatorLike => ((globalThis as { navigator?: NavigatorLike }).navigator ?? {});

/** "vendor architecture (description)" of the default adapter, or why there is none. */
export async function describeWebGpu(): Promise<string> {
  const gpu = nav().gpu;
  if (gpu === undefined) return "unavailable (no navigator.gpu)";
  try {
    const adapter = await gpu.requestAdapter();
    if (adapter === null) return "unavailable (no adapter)";
    const i = adapter.info ?? {};
    const name = [i.vendor, i.architecture].filter((s) => s !== undefined && s !== "").join(" ");
    return `${name || "adapter"}${i.description ? ` (${i.description})` : ""}`;
  } catch (e) {
    return `unavailable (${e instanceof Error ? e.message : String(e)})`;
  }
}

export function browserEnvironment(
  info: RunInfo,
  machine: { normkit: string; webgpu: string },
): Record<string, string | number | boolean> {
  const n = nav();
  const env: Record<string, string | number | boolean> = {
    normkit: machine.normkit,
    backend: getBackend(),
    backendsAvailable: listBackends().join(", "),
    browser: n.userAgent ?? "unknown",
    platform: n.platform ?? "unknown",
    cores: n.hardwareConcurrency ?? 0,
  };
  // Chromium reports memory rounded to a power of two and capped at 8 GiB; other browsers not at all
  if (typeof n.deviceMemory === "number") env.memoryGiB = n.deviceMemory;
  env.crossOriginIsolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  env.webgpu = machine.webgpu;
  env.runner = "web lab (npm run lab:web), Web Worker";
  return { ...env, ...runEnvironment(info) };
}
