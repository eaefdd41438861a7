// The two example plugins composed; `esper validate esper.config.ts` checks it.
import { defineConfig } from '@esper/core';
import { epochReport, packetCounter } from './index.js';

export default defineConfig({
  plugins: [epochReport(), packetCounter()], // boot order follows requires, not this order
  run: { name: 'custom-plugin', dir: './runs' },
  packetCounter: { ignore: ['debug'] },
  epochReport: { file: 'epoch-report.jsonl' },
});
