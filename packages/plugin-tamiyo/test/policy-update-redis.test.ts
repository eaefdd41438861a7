// The policy-update delivery scenarios on a real redis-server (test/redis-backend.ts), else skipped.
import { describeDeliveryScenarios } from './policy-update-scenarios.js';
import { connectRedis, deleteRedisStreams, redisAvailable } from './redis-backend.js';

const skip = !(await redisAvailable());
let n = 0;
describeDeliveryScenarios(
  'redis',
  {
    prefix: () => `tamiyo-policy-${process.pid}-${Date.now()}-${n++}:`,
    backend: connectRedis,
    cleanup: (prefix) =>
      deleteRedisStreams([
        ...['normal', 'emergency', 'telemetry', 'policy', 'kr', 'kready', 'kerr', 'deadletter'].map((s) => `${prefix}oona.${s}`),
        // The replica scenario's service streams.
        `${prefix}tamiyo.requests`,
        `tamiyo.replies.${prefix}r1`,
      ]),
  },
  skip,
);
