import { openOn, runTransportContract } from '../unit/cluster/transport.case.js';

runTransportContract({ name: 'worker threads', open: openOn('worker') });
