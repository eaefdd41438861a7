/**
 * `@esper/plugin-tamiyo`: Tamiyo, the strategic controller. For now its typed settings; the
 * controller service comes with the Tamiyo issue.
 */
export {
  TAMIYO_BLEND_MODES,
  tamiyoConfigSchema,
  type TamiyoBlendMode,
  type TamiyoConfig,
  type TamiyoConfigInput,
} from './config.js';
