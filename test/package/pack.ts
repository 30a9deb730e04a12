/**
 * Packs normkit as a fresh clone would (a copy of the repository without build/ or node_modules, so
 * `prepack` must build what ships), then installs the tarball into a new consumer project, offline.
 * The consumer gets the files of test/package/consumer/ and, linked from this repository's
 * node_modules (no network), @types/node and @webgpu/types for its type checks.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(fileURLToPath(new URL("../../../", import.meta.url)));
export const BIN = (name: string) => join(ROOT, "node_modules", ".bin", name);
const run = promisify(execFile);

/** Runs a command; on failure the error carries its output. */
export async function sh(cmd: string, args: string[], cwd: string, timeout = 120_000): Promise<string> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd, timeout, maxBuffer: 64 << 20, env: { ...process.env, npm_config_update_notifier: "false" } });
    return stdout + stderr;
  } catch (e) {
    const x = e as Error & { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(" ")} (in ${cwd}) failed: ${x.message}\n${x.stdout ?? ""}\n${x.stderr ?? ""}`);
  }
}

export interface Packed {
  tmp: string;
  tarball: string;
  /** paths inside the tarball, without the leading "package/" */
  files: string[];
  /** the consumer project, normkit installed from the tarball */
  consumer: string;
}

/** Copies what a clone has: no build outputs, no installed modules, no git metadata. */
function copyClone(to: string): void {
  const skip = new Set(["node_modules", "build", ".git", "lab-report", ".gpu-kit"]);
  cpSync(ROOT, to, {
    recursive: true,
    filter: (src) => !skip.has(basename(src)) && !/normkit-.*\.tgz$/.test(src) && !src.endsWith("kernels.generated.ts"),
  });
  symlinkSync(join(ROOT, "node_modules"), join(to, "node_modules"), "dir");
}

export async function packAndInstall(): Promise<Packed> {
  const tmp = mkdtempSync(join(tmpdir(), "normkit-package-"));
  const clone = join(tmp, "clone");
  copyClone(clone);
  await sh("npm", ["pack", "--pack-destination", tmp, "--silent"], clone, 300_000);
  const tarball = join(tmp, readdirSync(tmp).find((f) => f.endsWith(".tgz"))!);
  const files = (await sh("tar", ["tzf", tarball], tmp)).split("\n").filter(Boolean).map((f) => f.replace(/^package\//, ""));
  const consumer = join(tmp, "consumer");
  cpSync(join(ROOT, "test/package/consumer"), consumer, { recursive: true });
  writeFileSync(
    join(consumer, "package.json"),
    JSON.stringify({ name: "normkit-consumer", private: true, type: "module", dependencies: { normkit: `file:${tarball}` } }, null, 2),
  );
  await sh("npm", ["install", "--offline", "--no-audit", "--no-fund", "--loglevel=error"], consumer);
  for (const types of ["@types/node", "@webgpu/types"]) {
    mkdirSync(join(consumer, "node_modules", types, ".."), { recursive: true });
    symlinkSync(join(ROOT, "node_modules", types), join(consumer, "node_modules", types), "dir");
  }
  return { tmp, tarball, files, consumer };
}
