/** @module Public surface of src/kernels (re-exported by src/index.ts). */
export {};
