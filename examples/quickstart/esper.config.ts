// The embedded defaults. `esper validate esper.config.ts` checks it; `esper config esper.config.ts`
// prints it resolved (environment overrides applied, secrets masked).
import { defineConfig, telemetryFile } from '@esper/core';

export default defineConfig({
  plugins: [telemetryFile()],
  run: { name: 'quickstart', dir: './runs', seed: 42 },
  kernel: { hookTimeoutMs: 10_000 },
  telemetryFile: { file: 'telemetry.jsonl' },
});
