// Evaluation, one module per kind: `import { evaluate } from 'psic'` gives evaluate.rd (rate–
// distortion against the backbone and classical codecs), evaluate.attack (targets, robustness,
// PGD baseline, key search) and evaluate.all (both, as report files).
export { evaluateRd as rd } from './rd.js';
export type { RdMeasure, RdModelInfo, RdOptions, RdPoint, RdReport, RdRow, RdSeries, RdSeriesId } from './rd.js';
export { evaluateAttack as attack } from './attack.js';
export type { AttackEvalOptions, AttackEvalReport, ClipReport, HeadAttackReport, KeySearchReport, PgdReport, Reencoding, SetQuality, TargetAttackReport } from './attack.js';
export { evaluateAll as all } from './all.js';
export type { AllEvalOptions, AllEvalReport } from './all.js';
