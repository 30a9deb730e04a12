// The API reference: TypeDoc over every entry point in package.json "exports" (normkit,
// normkit/webgpu-node, normkit/tfjs, and any entry added later), from their TSDoc comments.
// `npm run docs` writes build/api/index.html (git-ignored); any TypeDoc warning fails it
// (--treatWarningsAsErrors), and a test in `npm test` runs it.
//   node scripts/docs.mjs [--out DIR]
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const at = process.argv.indexOf("--out");
const out = at > 0 ? process.argv[at + 1] : join(root, "build/api");

// "./tfjs": { "types": "./build/src/tfjs/index.d.ts" } → src/tfjs/index.ts; exports without types
// ("./worker", the pool's worker script for bundlers, and "./package.json") are no API
const entryPoints = Object.values(pkg.exports).filter((e) => typeof e !== "string").map((e) => {
  const types = e.types;
  const src = types.replace(/^\.\/build\//, "").replace(/\.d\.ts$/, ".ts");
  if (!existsSync(join(root, src))) throw new Error(`docs: no source ${src} for the export ${types}`);
  return src;
});

const args = [
  join(root, "node_modules/typedoc/bin/typedoc"),
  ...entryPoints.flatMap((e) => ["--entryPoints", e]),
  "--tsconfig", "tsconfig.docs.json",
  "--out", out,
  "--name", `${pkg.name} ${pkg.version}`,
  "--readme", "none",
  // no "Defined in" source links: they need a git remote, which a fresh clone or a tarball may lack
  "--disableSources",
  "--excludePrivate", "--excludeProtected", "--excludeInternal",
  // internal helper types that public signatures mention: named in the reference, not documented
  ...[
    "src/reference/index.ts:Vec", "src/reference/index.ts:Opt", "src/reference/ops.ts:Vec", "src/reference/ops.ts:Opt",
    "src/backends/webgpu/backend.ts:NS", "src/backends/webgpu/cpu.ts:NS", "src/backends/webgpu/cpu.ts:cpuOps",
  ]
    .flatMap((t) => ["--intentionallyNotExported", t]),
  "--treatWarningsAsErrors",
];
const r = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit" });
if (r.status === 0) console.log(`API reference: ${join(out, "index.html")} (${entryPoints.join(", ")})`);
process.exit(r.status ?? 1);
