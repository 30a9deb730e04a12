#!/bin/bash
# One command for a session with a GPU machine (device tool `run`, carry [".gpu-kit", "build"]):
#   bash bench/gpu-device.sh [bench options]
# Prepared here first: npm ci && npm run build && bash bench/gpu-kit/prepare-kit.sh
# Runs the WebGPU test suite on the real GPU (correctness of its subgroup paths), then the
# benchmark (with PyTorch CUDA if python3 has it); results land in $OUT (and bench/results/).
set -u
# that machine has no node: the kit brings it (and dawn.node, and the Vulkan loader)
command -v node >/dev/null || exec bash .gpu-kit/run.sh bash "$0" "$@"
out=${OUT:-bench/results}
mkdir -p "$out"
node build/test/webgpu/node-child.js suite > "$out/gpu-suite.json" 2> "$out/gpu-suite-stderr.txt"
echo "suite exit $?"
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").pop());
const bad = r.results.filter((x) => !x.ok);
console.log(JSON.stringify(r.info), `${r.results.length - bad.length}/${r.results.length} passed`);
for (const x of bad.slice(0, 30)) console.log("FAIL", x.name, x.message);' "$out/gpu-suite.json" || true
# no V8 flag: normkit holds Dawn's instance (the crash --no-turbofan used to hide, see README)
node build/bench/gpu.js "$@"
