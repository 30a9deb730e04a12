/** The core bundles for browsers: nothing reachable from src/index.ts imports a Node built-in. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";

test("src/index.ts and everything it imports statically use no Node built-ins", () => {
  const root = fileURLToPath(new URL("../../../src/", import.meta.url));
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, "utf8");
    for (const m of src.matchAll(/^\s*(?:import|export)[^'"]*?from\s+["']([^"']+)["']/gm)) {
      const spec = m[1];
      assert.ok(spec.startsWith("."), `${file} imports ${spec}: the core must have no runtime dependencies or Node built-ins`);
      visit(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
    }
  };
  visit(resolve(root, "index.ts"));
  assert.ok(seen.size > 5);
});
