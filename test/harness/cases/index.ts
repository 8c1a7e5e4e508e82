// Every op family's harness cases (one import per family file).
import type { OpCase } from '../ops-harness.js';
import { attentionCases } from './attention.js';
import { castCases } from './cast.js';
import { elementwiseCases } from './elementwise.js';
import { linearCases } from './linear.js';
import { linearQuantCases } from './linear_quant.js';
import { matmulCases } from './matmul.js';
import { positionCases } from './position.js';
import { quantCases } from './quant.js';
import { recurrentCases } from './recurrent.js';

export function opCases(): OpCase[] {
  return [
    ...elementwiseCases(),
    ...positionCases(),
    ...castCases(),
    ...linearCases(),
    ...matmulCases(),
    ...linearQuantCases(),
    ...quantCases(),
    ...attentionCases(),
    ...recurrentCases(),
    ...matmulCases(),
  ];
}
