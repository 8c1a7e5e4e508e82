// Helpers for building harness cases: seeded inputs and the awkward lengths.

import { Tensor } from '../../../ts/tensor/tensor.js';
import type { OpArgs, OpName } from '../../../ts/backend/backend.js';
import type { OpCase } from '../ops-harness.js';
import { normals } from '../rng.js';
import { TOL_F32, type Tolerance } from '../tolerance.js';

/** Lengths that exercise the tails after SIMD loops. */
export const AWKWARD = [1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 33, 127] as const;

/** A case list with a private seed sequence, so each family's inputs are stable on their own. */
export class CaseList {
  readonly cases: OpCase[] = [];
  private seedValue: number;

  constructor(seed: number) {
    this.seedValue = seed;
  }

  seed(): number {
    return this.seedValue++;
  }

  add<K extends OpName>(op: K, label: string, args: OpArgs[K], tol: Tolerance = TOL_F32, refusedBy?: Readonly<Record<string, RegExp>>): void {
    this.cases.push({ op, label, args, tol, ...(refusedBy ? { refusedBy } : {}) } as unknown as OpCase);
  }

  /** Normal values times `scale`; with `special`, a NaN and two large finite values. */
  f32(shape: readonly number[], scale = 1, special = false): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = normals(n, this.seed(), scale);
    if (special && n > 3) {
      v[0] = NaN;
      v[Math.floor(n / 2)] = 40;
      v[n - 1] = -40;
    }
    return Tensor.fromValues(v, shape);
  }
}
