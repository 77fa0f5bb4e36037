/** @module Public surface of src/routing (re-exported by src/index.ts). */
export {};
