export * from './define-config.js';
export * from './core-schema.js';
export * from './errors.js';
export { MASK, maskValue, redact } from './mask.js';
export { describeSettings, secretSettings, settingsEnv, type SettingInfo, type SettingMeta } from './meta.js';
export { ResolvedConfig, resolveConfig, type Env, type ResolveOptions, type ResolvedPlugin } from './resolve.js';
export * from './load.js';
