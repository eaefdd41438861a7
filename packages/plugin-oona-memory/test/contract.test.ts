import { describeOonaContract } from '@esper/core/testing';
import { MemoryBroker } from '../src/index.js';

// The contract suite against the in-memory backend on the suite's ManualClock (deterministic:
// ids, idle times, freshness, TTL and breaker timeouts all follow the injected clock).
describeOonaContract('memory backend', ({ clock }) => {
  const broker = new MemoryBroker(clock);
  return Promise.resolve({ backend: () => broker.backend(), cleanup: () => Promise.resolve() });
});
