import { MemoryBroker } from '../../src/oona/index.js';
import { describeOonaContract } from '../../src/testing/index.js';

// The contract suite against the in-memory backend on the suite's ManualClock (deterministic:
// ids, idle times, freshness, TTL and breaker timeouts all follow the injected clock).
describeOonaContract('memory backend', ({ clock }) => {
  const broker = new MemoryBroker(clock);
  return Promise.resolve({ backend: () => broker.backend(), cleanup: () => Promise.resolve() });
});
