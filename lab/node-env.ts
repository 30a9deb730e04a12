/**
 * The lab's platform services in Node (LabEnvironment): WebGPU through Dawn in a child process
 * (lab/gpu-child.ts). First with the system's Vulkan driver; where that finds no adapter, with
 * SwiftShader from Debian's chromium (a CPU renderer: its results are labelled as the CPU's).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { GpuBandwidthRequest, GpuBandwidthResult, LabEnvironment } from "./types.js";

const CHILD = fileURLToPath(new URL("./gpu-child.js", import.meta.url));
const SWIFTSHADER_ICD = "/usr/lib/chromium/vk_swiftshader_icd.json";

/** The environment that points Dawn at SwiftShader, or null when it is absent or a driver was chosen. */
function swiftShaderEnv(): NodeJS.ProcessEnv | null {
  const env = { ...process.env };
  if (!existsSync(SWIFTSHADER_ICD) || env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES) return null;
  env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  env.LD_LIBRARY_PATH = ["/usr/lib/chromium", env.LD_LIBRARY_PATH].filter(Boolean).join(":");
  return env;
}

interface ChildAnswer { result?: GpuBandwidthResult; noAdapter?: string; error?: string }

function runChild(req: GpuBandwidthRequest, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<ChildAnswer> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify(req)], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const last = out.trim().split("\n").pop() ?? "";
      if (last.startsWith("{")) {
        try {
          return resolve(JSON.parse(last) as ChildAnswer);
        } catch {
          // fall through to the error below
        }
      }
      resolve({ error: `Dawn child ${signal ? `killed by ${signal}` : `exited ${code}`}: ${err.trim().split("\n").slice(-3).join(" ") || "no output"}` });
    });
  });
}

export function nodeLabEnvironment(): LabEnvironment {
  return {
    async gpuBandwidth(req) {
      const native = await runChild(req, process.env, 180_000);
      if (native.result) return { results: [native.result] };
      const sw = swiftShaderEnv();
      if (sw === null) return { results: [], note: native.noAdapter ?? native.error ?? "no WebGPU adapter" };
      const soft = await runChild(req, sw, 180_000);
      if (soft.result) return { results: [soft.result], note: "no hardware adapter found; SwiftShader (Chromium's CPU renderer) stands in" };
      return { results: [], note: soft.noAdapter ?? soft.error ?? native.noAdapter ?? "no WebGPU adapter" };
    },
  };
}
