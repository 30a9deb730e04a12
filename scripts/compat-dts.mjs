// Makes the emitted declarations (build/src/**/*.d.ts) usable by every consumer's `tsc --strict`
// without skipLibCheck (test/package checks TypeScript 5.0, 5.4, 5.9 and 7):
//
// 1. Typed-array generics. TypeScript 5.7 made the typed arrays generic, and tsc ≥ 5.7 writes
// inferred types as `Float32Array<ArrayBuffer>`, which TypeScript ≤ 5.6 rejects ("Type
// 'Float32Array' is not generic", TS2315, on 5.0, 5.4 and 5.6). The bare name means the same to
// TypeScript ≤ 5.6 and `Float32Array<ArrayBufferLike>` to ≥ 5.7: no narrower than the
// `Float32Array` the public API declares.
//
// 2. Side-effect imports (`import "./backends/wasm/index.js";` in index.d.ts, which registers the
// wasm backend at run time). They carry no types (no module in src augments globals) but make the
// consumer's compiler load that module's declarations, and with them the WebAssembly namespace,
// which neither lib ES2022 nor @types/node 20 declares (TS2503 "Cannot find namespace
// 'WebAssembly'" for a Node consumer without lib DOM). The .js files keep them.
//
// Run after tsc by `npm run build` and `npm run build:lib` (prepack).
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = join(dirname(fileURLToPath(import.meta.url)), "../build/src");
const generic = /\b((?:Float|Int|Uint|BigInt|BigUint)(?:8|16|32|64)(?:Clamped)?Array)<(?:ArrayBufferLike|ArrayBuffer|SharedArrayBuffer)>/g;
const sideEffectImport = /^import\s+["'][^"']+["'];?[ \t]*\r?\n/gm;
let changed = 0;
for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith(".d.ts")) continue;
  const file = join(entry.parentPath ?? entry.path, entry.name);
  const text = readFileSync(file, "utf8");
  const compat = text.replace(generic, "$1").replace(sideEffectImport, "");
  if (compat !== text) {
    writeFileSync(file, compat);
    changed++;
  }
}
console.log(`declarations: typed-array generics and side-effect imports dropped in ${changed} files`);
