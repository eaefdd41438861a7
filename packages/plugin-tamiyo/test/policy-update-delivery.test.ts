import { SystemClock } from '@esper/core';
import { MemoryBroker, MemoryStreamBackend } from '@esper/plugin-oona-memory';
import { describeDeliveryScenarios } from './policy-update-scenarios.js';

let n = 0;
const broker = new MemoryBroker(new SystemClock());
describeDeliveryScenarios('memory', {
  prefix: () => `t${n++}:`,
  backend: () => Promise.resolve(new MemoryStreamBackend(broker)),
});
