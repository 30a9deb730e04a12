// The Vite recipe of docs/install.md: nothing for normkit itself (Vite bundles the pool's worker
// from normkit's `new Worker(new URL("./worker.js", import.meta.url), { type: "module" })`, in
// `vite` and `vite build`); the two headers make the page cross-origin isolated, which the pool's
// shared memory needs, in the dev server and in `vite preview`.
const headers = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" };
export default { server: { headers }, preview: { headers } };
