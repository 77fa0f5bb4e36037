/** @module Test helpers for users: fast-check arbitraries (fast-check is a peer dependency). */
export {};
