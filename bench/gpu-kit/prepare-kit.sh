#!/bin/bash
# Packs what normkit's WebGPU code needs on a Linux x86-64 NVIDIA machine that has a GPU driver but no
# Node.js and no network: this machine's node binary, the linux-x64 dawn.node of the `webgpu` package, and
# Debian's Vulkan/GL loader libraries. Run from the project root after `npm ci`:
#   bash bench/gpu-kit/prepare-kit.sh
# It writes .gpu-kit/ (about 30 MB; .gitignore keeps it out of git). On the GPU machine,
# `bash .gpu-kit/run.sh CMD...` runs CMD with that node first on PATH and the loaders in place
# (bench/gpu-device.sh does so for the WebGPU suite and bench:gpu).
set -euo pipefail
root=$(pwd)
[[ -f package.json ]] || { echo "run from the project root" >&2; exit 2; }
kit=$root/.gpu-kit
rm -rf "$kit"; mkdir -p "$kit/debs" "$kit/webgpu"
xz -T2 -6 -c "$(command -v node)" > "$kit/node.xz"
wg=$root/node_modules/webgpu
[[ -d $wg ]] || { echo "node_modules/webgpu missing: add the 'webgpu' package and run npm ci first" >&2; exit 2; }
cp "$wg/index.js" "$wg/package.json" "$kit/webgpu/"
[[ -f $wg/types.d.ts ]] && cp "$wg/types.d.ts" "$kit/webgpu/"
xz -T2 -6 -c "$wg/dist/linux-x64/dawn.node" > "$kit/webgpu/dawn.node.xz"
lists=$(mktemp -d); mkdir -p "$lists/partial"
o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
apt-get $o update >/dev/null
(cd "$kit/debs" && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1)
rm -rf "$lists"
cp "$(dirname "$0")/run.sh" "$kit/run.sh"
du -sh "$kit"
