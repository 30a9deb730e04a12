/** Where the peers live: bench/node_modules, installed by run.ts on first use (never the root package's dependencies). */
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));

/** Imports a peer package from bench/node_modules (the root package never depends on peers). */
export async function importPeer(name: string): Promise<any> {
  const req = createRequire(`${REPO}bench/package.json`);
  const path = req.resolve(name);
  const mod = await import(pathToFileURL(path).href);
  return mod.default && Object.keys(mod).length <= 2 ? { ...mod.default, ...mod } : mod;
}

export function peerVersion(name: string): string {
  const req = createRequire(`${REPO}bench/package.json`);
  try {
    return (req(`${name}/package.json`) as { version: string }).version;
  } catch {
    return "not installed";
  }
}

