// Every op's WebGPU kernel, by op name (one spread per kernel family file).
import type { KernelTable } from './context.js';
import { castKernels } from './cast.js';
import { elementwiseKernels } from './elementwise.js';
import { linearKernels } from './linear.js';
import { positionKernels } from './position.js';
import { attentionKernels } from './attention.js';
import { attentionNaiveKernels } from './attention_naive.js';
import { linearAttentionKernels } from './linear_attention.js';
import { matmulKernels } from './matmul.js';
import { quantKernels } from './quant.js';
import { recurrentKernels } from './recurrent.js';

export const KERNELS: KernelTable = {
  ...elementwiseKernels, ...positionKernels, ...castKernels, ...linearKernels, ...matmulKernels,
  ...attentionKernels, ...attentionNaiveKernels, ...linearAttentionKernels, ...quantKernels, ...recurrentKernels,
};
