// CommonJS: require() of the ES module package (Node ≥ 20.19 / 22.12, no flag).
const { getBackend, layerNorm, tensor } = require("normkit");

const [rows, D] = [64, 96];
const x = tensor(Float32Array.from({ length: rows * D }, (_, i) => Math.sin(i * 0.37) * 3 + 1), [rows, D]);
console.log(JSON.stringify({ backend: getBackend(), y: Array.from(layerNorm(x, [D]).data) }));
