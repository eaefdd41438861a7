import { SystemClock } from '@esper/core';
import { MemoryBroker } from '@esper/plugin-oona-memory';
import { describeServiceScenarios } from './service-scenarios.js';

// One in-process broker per test, on the system clock (deadlines and claim idle times are real).
let broker = new MemoryBroker(new SystemClock());
describeServiceScenarios('memory broker', {
  prefix: () => {
    broker = new MemoryBroker(new SystemClock());
    return '';
  },
  backend: () => Promise.resolve(broker.backend()),
});
