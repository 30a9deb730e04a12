/**
 * `npm run docs` (TypeDoc over every package.json export) builds the API reference without a
 * single warning: scripts/docs.mjs passes --treatWarningsAsErrors, so a public type that is not
 * exported, a broken {@link} or a bad TSDoc tag fails this test.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));

test("the API reference builds from the TSDoc comments with no warning, covering every entry point", () => {
  const out = mkdtempSync(join(tmpdir(), "normkit-api-"));
  try {
    const r = spawnSync(process.execPath, [join(root, "scripts/docs.mjs"), "--out", out], { cwd: root, encoding: "utf8", timeout: 300_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const index = readFileSync(join(out, "index.html"), "utf8");
    const exportsMap = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).exports as Record<string, unknown>;
    // one module page per export with types: index, webgpu, webgpu-node, tfjs, … (not the pool's
    // worker script or package.json, which scripts/docs.mjs skips)
    const api = Object.keys(exportsMap).filter((k) => typeof exportsMap[k] === "object");
    for (const name of api.map((k) => (k === "." ? "index" : k.slice(2)))) {
      assert.ok(index.includes(`>${name}<`), `no module "${name}" in the reference`);
    }
    assert.ok(existsSync(join(out, "classes")), "no class pages");
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
