/** The environment Dawn needs in a child process: the system's Vulkan, or SwiftShader when chromium has it and no ICD is chosen. */
import { existsSync } from "node:fs";

const SWIFTSHADER = "/usr/lib/chromium/vk_swiftshader_icd.json";

export function dawnEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  if (existsSync(SWIFTSHADER) && !env.VK_ICD_FILENAMES && !env.VK_DRIVER_FILES && env.NORMKIT_DAWN_NATIVE !== "1") {
    env.VK_ICD_FILENAMES = SWIFTSHADER;
    env.LD_LIBRARY_PATH = ["/usr/lib/chromium", env.LD_LIBRARY_PATH].filter(Boolean).join(":");
  }
  return env;
}
