/** @module Every operation a host can run: importing this registers them. */
import './ep/all-to-all-op.js';
import './ep/traffic.js';
import './ep/debug-ops.js';
