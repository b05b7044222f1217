// The decodes an attack evaluation measures, in report order: shared by the evaluation
// (attack.ts) and its rendering (report.ts).
export const ATTACK_DECODES = ['backbone', 'full', 'protected', 'wrong-key', 'key-search-pixels', 'key-search-target',
  'sealed', 'sealed-key-search-pixels', 'sealed-key-search-target'];
