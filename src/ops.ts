/** @module Every operation a host can run: importing this registers them. */
import './ep/all-to-all-op.js';
import './ep/traffic.js';
import './ep/debug-ops.js';
import './ep/normal/notify-op.js';
import './ep/normal/intranode-dispatch-op.js';
import './ep/normal/intranode-combine-op.js';
import './ep/normal/internode-dispatch-op.js';
import './ep/normal/internode-combine-op.js';
import './ep/low-latency/dispatch-op.js';
import './ep/low-latency/combine-op.js';
import './ep/experts.js';
import './actors/stream-runner.js';
