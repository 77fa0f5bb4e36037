import { runTransportContract } from './transport.case.js';

runTransportContract({ transport: 'in-process' });
