/**
 * @module
 * `expertmesh/testing`: test helpers for users, chiefly fast-check arbitraries (fast-check is a peer
 * dependency). One `export *` line per helper module.
 */
export * from './routing-arbitraries.js';
export * from './eplb-arbitraries.js';
