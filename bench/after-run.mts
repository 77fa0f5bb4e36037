import { eventsPerTransfer, deepepEp64 } from './link-figures.js';
const e = await eventsPerTransfer();
console.log('a2a', JSON.stringify(e), e.events / e.transfers);
const d = await deepepEp64();
console.log('ep64', JSON.stringify(d));
