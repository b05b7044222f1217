// Evaluation, one module per kind: `import * as evaluate from './evaluate/index.js'` gives
// evaluate.rd(options) (rate–distortion against the backbone and classical codecs).
export { evaluateRd as rd } from './rd.js';
export type { RdMeasure, RdModelInfo, RdOptions, RdPoint, RdReport, RdRow, RdSeries, RdSeriesId } from './rd.js';
