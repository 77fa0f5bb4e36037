import { runTransportContract } from '../unit/cluster/transport.case.js';

runTransportContract({ transport: 'worker' });
