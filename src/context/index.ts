// The context builder's public surface: workspace folder -> ordered, filtered, rendered context with a
// per-file fingerprint and an omission report. Knows nothing of models or VS Code.
export { buildContext, DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_FILES, DEFAULT_MAX_HISTORY_COMMITS } from './build.ts';
export { planRefresh, type RefreshPlan } from './fingerprint.ts';
export { contextReport, type ContextReport } from './report.ts';
export { contextRules, type PathRules } from './rules.ts';
export { fileAtToken, findSnippet, FORMAT_VERSION, header, locate, type Location } from './render.ts';
export type * from './types.ts';
