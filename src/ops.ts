/** @module Every operation a host can run: importing this registers them. */
import './ep/all-to-all-op.js';
import './ep/traffic.js';
import './ep/debug-ops.js';
import './ep/notify-op.js';
import './ep/intranode-dispatch-op.js';
import './ep/intranode-combine-op.js';
import './ep/internode-dispatch-op.js';
import './ep/internode-combine-op.js';
import './ep/experts.js';
import './actors/stream-runner.js';
