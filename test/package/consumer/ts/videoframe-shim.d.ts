// TypeScript 5.0's lib.dom has no VideoFrame, which @webgpu/types 0.1.74 names (TS2304 in its
// index.d.ts): the one declaration a TypeScript 5.0 project adds to use those types.
interface VideoFrame {}
