// The embedded defaults: the in-memory Oona message fabric and a JSONL telemetry sink.
// `esper validate esper.config.ts` checks it; `esper config esper.config.ts` prints it
// resolved (environment overrides applied, secrets masked, and which plugin provides each port).
import { defineConfig, telemetryFile } from '@esper/core';
import { oonaMemory } from '@esper/plugin-oona-memory';

export default defineConfig({
  plugins: [oonaMemory(), telemetryFile()],
  run: { name: 'quickstart', dir: './runs', seed: 42 },
  kernel: { hookTimeoutMs: 10_000 },
  oona: { group: 'quickstart' },
  telemetryFile: { file: 'telemetry.jsonl' },
});
