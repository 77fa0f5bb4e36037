import { openOn, runTransportContract } from './transport.case.js';

runTransportContract({ name: 'in-process', open: openOn('in-process') });
