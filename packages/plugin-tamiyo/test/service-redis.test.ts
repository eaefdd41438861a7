// The service scenarios on a real redis-server (test/redis-backend.ts), else skipped.
import { connectRedis, deleteRedisStreams, redisAvailable } from './redis-backend.js';
import { describeServiceScenarios } from './service-scenarios.js';

const skip = !(await redisAvailable());
let n = 0;
describeServiceScenarios(
  'redis',
  {
    prefix: () => `tamiyo-service-${process.pid}-${Date.now()}-${n++}:`,
    backend: connectRedis,
    // The scenarios' streams: the catalogue's, the request stream and the reply streams.
    cleanup: (prefix) =>
      deleteRedisStreams([
        ...['normal', 'emergency', 'telemetry', 'policy', 'kr', 'kready', 'kerr', 'deadletter'].map((s) => `${prefix}oona.${s}`),
        `${prefix}tamiyo.requests`,
        ...['run-a', 'run-b', 'r'].map((r) => `tamiyo.replies.${prefix}${r}`),
      ]),
  },
  skip,
);
