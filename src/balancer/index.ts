/** @module Public surface of src/balancer (re-exported by src/index.ts). */
export {};
