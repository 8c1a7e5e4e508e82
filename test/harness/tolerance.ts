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
