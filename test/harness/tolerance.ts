// Named tolerances per dtype for comparing a backend's output with the reference:
// |got - want| <= atol + rtol * |want| (the llm.c convention).

export interface Tolerance {
  readonly atol: number;
  readonly rtol: number;
}

/** f32 kernels: vectorized exp/tanh and reordered sums differ from f64 by a few ulp. */
export const TOL_F32: Tolerance = { atol: 1e-5, rtol: 1e-4 };
/** Results stored as f16 (10-bit mantissa): half an ulp is ~4.9e-4 relative. */
export const TOL_F16: Tolerance = { atol: 1e-3, rtol: 1e-3 };
/** Results stored as bf16 (7-bit mantissa): half an ulp is ~3.9e-3 relative. */
export const TOL_BF16: Tolerance = { atol: 1e-2, rtol: 8e-3 };
/** Bit-exact operations (conversions, gathers). */
export const TOL_EXACT: Tolerance = { atol: 0, rtol: 0 };
/** f32 GEMM with f32 accumulation over K up to a few thousand, outputs of order 1. */
export const TOL_GEMM_F32: Tolerance = { atol: 2e-4, rtol: 2e-4 };
/** Attention in f32: dot products over D, exp, and sums over up to 8192 keys in f32. */
export const TOL_ATTENTION_F32: Tolerance = { atol: 2e-5, rtol: 2e-4 };
/** Attention with f16 K/V: the reference reads the same f16 values, so only f32 arithmetic differs. */
export const TOL_ATTENTION_F16_KV: Tolerance = TOL_F16;
/** Recurrent layers: f32 matvecs, then errors carried (and damped by tanh) through up to 300 steps. */
export const TOL_RECURRENT_F32: Tolerance = { atol: 5e-5, rtol: 5e-4 };

// Error budgets of linear with quantized or half-precision weights. The reference multiplies by
// the same dequantized weights in f64, so a budget only covers what the kernel adds. Harness
// inputs: x ~ N(0, 1), W ~ N(0, 1/K), outputs of order 1 (test/quant-error.test.ts measures
// the actual errors these budgets bound).

/** f16 / bf16 weights widened exactly to f32: only f32 accumulation order differs. */
export const TOL_LINEAR_HALF: Tolerance = { atol: 2e-4, rtol: 2e-4 };
/**
 * q8_0 weights with activations quantized per block of 32: rounding x to a step of
 * max|x_block| / 127 adds an error of std ~ step * ||w|| / sqrt(12), about 0.006 here; 0.05 is
 * over 8 standard deviations.
 */
export const TOL_LINEAR_Q8_0: Tolerance = { atol: 0.05, rtol: 0.01 };
/**
 * Per-row i8 weights with activations quantized per row: one step of max|x_row| / 127 (rows of
 * up to ~3000 values have max ~4), error std up to ~0.01; 0.08 is about 8 standard deviations.
 */
export const TOL_LINEAR_I8: Tolerance = { atol: 0.08, rtol: 0.01 };
