/**
 * `@esper/plugin-tolaria`: Tolaria, the trainer. For now its typed settings; the trainer service
 * comes with the Tolaria issue.
 */
export {
  TOLARIA_AGGREGATION_MODES,
  TOLARIA_AGGREGATION_SCHEMES,
  TOLARIA_ATTRIBUTIONS,
  TOLARIA_LR_POLICIES,
  parseRebuildFence,
  tolariaConfigSchema,
  type TolariaAggregationMode,
  type TolariaAttribution,
  type TolariaConfig,
  type TolariaConfigInput,
  type TolariaLrPolicy,
} from './config.js';
