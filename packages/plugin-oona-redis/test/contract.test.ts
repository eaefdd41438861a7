import { describeOonaContract } from '@esper/core/testing';
import { RedisStreamBackend } from '../src/index.js';
import { deleteKeys, REDIS_URL, redisAvailable } from './redis-env.js';

const available = await redisAvailable();

// The shared contract suite against the real redis-server on 127.0.0.1:6379, every test on its
// own random stream prefix (deleted afterwards). Idle times are real: the suite sleeps them.
describeOonaContract(
  `@esper/plugin-oona-redis (${REDIS_URL})`,
  ({ prefix }) => {
    const backends: RedisStreamBackend[] = [];
    return Promise.resolve({
      backend: async () => {
        const backend = new RedisStreamBackend({ url: REDIS_URL });
        backends.push(backend);
        await backend.connect();
        return backend;
      },
      elapse: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
      cleanup: async () => {
        await Promise.allSettled(backends.map((b) => b.close()));
        await deleteKeys(prefix);
      },
    });
  },
  { skip: !available, seed: 7 },
);
