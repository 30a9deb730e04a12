/// <reference types="@webgpu/types" />
/**
 * Node-only entry ("normkit/webgpu-node"): the WebGPU backend on Dawn, through the `webgpu` npm
 * package, loaded dynamically so that the core never depends on it. Not imported by src/index.ts.
 *
 * Why this file keeps every Dawn instance alive: dawn.node does not let a device keep its GPU
 * instance (the object `create()` returns) alive. Once no JavaScript variable is live that holds
 * the instance, the GC collects it and the native instance is freed while its devices still run;
 * Dawn's periodic event processing then touches freed memory (SIGSEGV in DeviceBase::APITick,
 * "The futex facility returned an unexpected error code", pthread mutex assertions, hangs). It
 * shows once TurboFan optimizes a hot loop, because optimized code ends a local's liveness at its
 * last use while the interpreter keeps it until the frame ends; hence `node --no-turbofan` hid it.
 * Holding the instance for the process's life (it is one per process) removes the cause.
 */
import { NormError } from "./errors.js";
import { createGpuBackend, type GpuBackend } from "./backends/webgpu/backend.js";
import { backendOptions } from "./backends/webgpu/device.js";
import type { GpuBackendOptions } from "./backends/webgpu/types.js";

export * from "./backends/webgpu/index.js";

/** Dawn instances made here, held for the life of the process (see above). */
const instances = new Map<string, GPU>();

interface DawnModule {
  create(options: string[]): GPU;
  globals: Record<string, unknown>;
}

/**
 * The process's Dawn GPU instance for these options (`create(dawnOptions)` of the webgpu package),
 * made once and never released. Also installs Dawn's WebGPU globals (GPUBufferUsage, …) when absent.
 */
export async function nodeGpuInstance(dawnOptions: readonly string[] = []): Promise<GPU> {
  const key = JSON.stringify(dawnOptions);
  const have = instances.get(key);
  if (have) return have;
  let dawn: DawnModule;
  try {
    dawn = (await import("webgpu" as string)) as DawnModule;
  } catch (e) {
    throw new NormError("BACKEND_UNAVAILABLE", "webgpu", `the "webgpu" package (Dawn for Node) could not be loaded: npm i webgpu (${(e as Error).message})`);
  }
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  const gpu = dawn.create([...dawnOptions]);
  instances.set(key, gpu);
  return gpu;
}

export interface NodeGpuOptions extends Omit<GpuBackendOptions, "gpu" | "device"> {
  /** Options for Dawn's `create()`, e.g. ["backend=vulkan"] or ["enable-dawn-features=…"]. */
  dawnOptions?: string[];
}

/**
 * A WebGPU backend on Dawn. Throws NormError BACKEND_UNAVAILABLE, with what to install, when
 * there is no adapter (no Vulkan loader or driver).
 */
export async function createNodeGpu(options: NodeGpuOptions = {}): Promise<GpuBackend> {
  // checked before Dawn loads; dawnOptions is this function's own, the rest createGpuBackend's
  const { dawnOptions, ...rest } = backendOptions<NodeGpuOptions>(options, ["dawnOptions", "powerPreference", "subgroups"]);
  if (dawnOptions !== undefined && !(Array.isArray(dawnOptions) && dawnOptions.every((s) => typeof s === "string"))) {
    throw new NormError("BAD_ARGUMENT", "options.dawnOptions", "expected an array of strings (Dawn's create() options)");
  }
  const gpu = await nodeGpuInstance(dawnOptions);
  try {
    return await createGpuBackend({ ...rest, gpu });
  } catch (e) {
    if (e instanceof NormError && e.code === "BACKEND_UNAVAILABLE") {
      throw new NormError(
        "BACKEND_UNAVAILABLE",
        "gpu",
        `${e.message.replace(/^gpu: /, "")}. Dawn needs a Vulkan loader (libvulkan1) and a driver; without a GPU, SwiftShader from ` +
          "Debian's chromium works when Node starts with LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json",
      );
    }
    throw e;
  }
}
