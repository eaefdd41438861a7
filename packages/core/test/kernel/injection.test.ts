import { describe, expect, it } from 'vitest';
import { createEsper, definePlugin, ManualClock, Tokens, type Clock, type Logger } from '../../src/index.js';
import { GreeterPort, type Greeter } from './fixtures.js';
// tsyringe needs the reflect polyfill that @esper/core loads first.
import { inject, injectable } from 'tsyringe';

@injectable()
class ClockGreeter implements Greeter {
  constructor(
    @inject(Tokens.Clock) private readonly clock: Clock,
    @inject(Tokens.Logger) private readonly logger: Logger,
  ) {}
  greet(name: string): string {
    this.logger.debug('greeting', { name });
    return `${name} at ${this.clock.nowMs()}`;
  }
}

describe('injection by explicit token', () => {
  it('constructs decorated classes with @inject(Tokens.X) under a type-stripping compiler', async () => {
    const plugin = definePlugin({
      name: 'decorated',
      configKey: 'decorated',
      provides: [GreeterPort],
      setup(ctx) {
        ctx.provideClass(GreeterPort, ClockGreeter);
      },
    });
    const clock = new ManualClock(1_000);
    const logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };
    const run = await createEsper({ plugins: [plugin] }, { env: {}, clock, logger }).start();
    expect(run.resolve(GreeterPort).greet('Ada')).toBe('Ada at 1000');
    await run.stop();
  });
});
