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
/**
 * q8_0 quantize -> dequantize of one value: half a step of max|x_block| / 127 plus the f16
 * rounding of the scale (127 steps * 2^-11 relative). For x ~ N(0, 1) in blocks of 32 (max |x|
 * below ~4.5 at these sizes) that is under 0.018 + 0.0005 * |x|.
 */
export const TOL_Q8_0_ROUNDTRIP: Tolerance = { atol: 0.02, rtol: 1e-3 };
/** f32 GEMM with f32 accumulation over K up to a few thousand, outputs of order 1. */
export const TOL_GEMM_F32: Tolerance = { atol: 2e-4, rtol: 2e-4 };
/**
 * Attention in f32 (dot products over D, exp, sums over up to 8192 keys, all in f32) meets the
 * plain f32 tolerance; the name marks where that is asserted.
 */
export const TOL_ATTENTION_F32: Tolerance = TOL_F32;
/** Attention with f16 K/V: the reference reads the same f16 values, so only f32 arithmetic differs. */
export const TOL_ATTENTION_F16_KV: Tolerance = TOL_F16;
/** Recurrent layers: f32 matvecs, errors carried (and damped by tanh) through up to 300 steps; within plain f32. */
export const TOL_RECURRENT_F32: Tolerance = TOL_F32;

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

// Whole-model budgets: logits of order 1 to 10 after a few layers, compared with PyTorch f32.
/** f32 weights and activations: per-op f32 rounding differences accumulated over the layers. */
export const TOL_MODEL_LOGITS_F32 = 1e-4;
/**
 * Against llama.cpp's CPU logits on the same f32 GGUF: its kernels accumulate in other orders
 * and its exp is its own approximation (measured up to 8e-5 between llama.cpp and PyTorch).
 */
export const TOL_LLAMACPP_LOGITS_F32 = 2e-4;
/**
 * llama.cpp's CPU gelu looks values up in a table indexed by the f16 rounding of the input
 * (GGML_GELU_FP16): GeGLU models (Gemma) differ by up to 1.5e-3 (measured) from an exact gelu.
 */
export const TOL_LLAMACPP_LOGITS_GELU = 3e-3;
/**
 * q8_0 weights in the native kernels, which also quantize activations per block of 32 (the
 * goldens use the same dequantized weights with f32 activations). Over the 3-layer fixtures,
 * with logits up to about 10, the measured max |diff| is 0.235 (GPT-2) and 0.254 (Llama).
 */
export const TOL_MODEL_LOGITS_Q8_0 = 0.4;
/**
 * attnode against llama.cpp on the same Q8_0 file of a random-weight family fixture
 * (tools/reference/make_families_gguf.py), as a fraction of llama.cpp's logit spread (max - min):
 * both quantize activations to q8_0 blocks, llama.cpp with an f16 block scale, and random weights
 * amplify the rounding over the layers. Measured up to 3.1e-2 (Mistral; 7.1e-3 on the trained-like
 * llama-k256 fixture).
 */
export const TOL_LLAMACPP_Q8_0_OF_SPREAD = 0.06;
/**
 * attnode against llama.cpp on the T5 files `attnode convert` writes (t5-gguf-* fixtures), as a
 * fraction of llama.cpp's logit spread per decoder row. Measured (native backend): F32 1.2e-6
 * (ReLU) and 3.1e-4 (gated-GELU: llama.cpp's f16-table gelu, sharpened by T5's unscaled scores),
 * F16 4.5e-4 / 7.8e-4, Q8_0 1.62e-2 / 1.65e-2.
 */
export const TOL_LLAMACPP_T5_OF_SPREAD = { f32: 1e-3, f16: 2.5e-3, q8_0: TOL_LLAMACPP_Q8_0_OF_SPREAD } as const;
/**
 * attnode against llama.cpp on llama.cpp's own k-quant files of the random T5s of t5-k256 (d_model
 * 256), as a fraction of llama.cpp's logit spread, per FFN and type. The k-quant kernels quantize
 * activations to Q8_K as ggml does and the norms are bit-identical with ggml's (checked on
 * llama.cpp's own dumped tensors, llamacpp.mjs eval-seq2seq --dump: 0 of 23 rows differ), but
 * attention and the block sums add in another order, so an activation differs from llama.cpp's by
 * an ulp now and then, and where that ulp crosses a rounding boundary of its Q8_K code the code
 * flips: a whole quantization step, amplified by the random weights. ReLU, measured: Q2_K 9.2e-3,
 * Q4_K_M 5.3e-3, Q5_K_M 1.1e-2 (the second input's encoder output, 2e-2 off after a flip; the
 * first input, without one, agrees to 4e-7 of the spread), Q3_K_M 7.0e-4, Q6_K 2.8e-7 (no flip).
 * Gated-GELU: llama.cpp's gelu is an f16 table (its F32 file agrees to 4.7e-4 only) and ffn_down's
 * Q8_K activations take the gelu output, so more codes flip: Q2_K 4.5e-2, Q3_K_M 2.4e-2, Q4_K_M
 * 1.5e-2, Q5_K_M 3.6e-2, Q6_K 2.4e-2. Budgets ~3x the worst measured in each FFN; the k-quant dot
 * products alone compare with ggml's vec_dot per tensor in tools/llamacpp/diff-formats.mjs.
 */
export const TOL_LLAMACPP_T5_KQUANT_OF_SPREAD: Readonly<Record<'relu' | 'gated', Readonly<Record<string, number>>>> = {
  relu: { Q2_K: 3e-2, Q3_K_M: 3e-2, Q4_K_M: 3e-2, Q5_K_M: 3e-2, Q6_K: 3e-2 },
  gated: { Q2_K: 0.15, Q3_K_M: 0.08, Q4_K_M: 0.05, Q5_K_M: 0.1, Q6_K: 0.08 },
};
/**
 * attnode's q8_0 error against its own f32 logits of the same model, as a multiple of llama.cpp's
 * q8_0 error against llama.cpp's f32 logits (the same Q8_0 bytes in both engines), worst prompt
 * against worst prompt. Measured 0.92 (Phi-3) to 1.15 (Gemma 3), and 1.35 on Gemma 2; with
 * dtype 'q8_0' at load of the Hugging Face checkpoint against PyTorch, 0.73 to 1.31, and 1.47 on
 * Qwen2. The errors themselves are 2% to 14% of the spread with random weights.
 */
export const Q8_0_ERROR_RATIO_TO_LLAMACPP = 1.6;
/**
 * f16 KV cache against the f32 one, same weights: K and V rounded to f16 (relative 2^-11) before
 * attention. Measured max |diff| on the 3-layer fixtures with logits up to about 11: 0.0088
 * (GPT-2) and 0.0076 (Llama).
 */
export const TOL_MODEL_LOGITS_KV_F16 = 0.03;

// Round-trip error budgets: relative RMS error ||x - dequantize(quantize(x))|| / ||x|| per
// format, on N(0, 1) data and on heavy-tailed data (1% of columns 30x larger, the outlier
// features of LLM.int8()). test/quant-error.test.ts asserts them and prints the measured values.
export const ERR_ROUNDTRIP_NORMAL = { f16: 3e-4, bf16: 2.5e-3, q8_0: 7e-3, i8: 1e-2 } as const;
/** Over all values (outliers dominate the norm). */
export const ERR_ROUNDTRIP_HEAVY = { f16: 3e-4, bf16: 2.5e-3, q8_0: 2e-2, i8: 5e-2 } as const;
/**
 * On the ordinary columns only: per-row int8 spends its 255 levels on the outliers and the
 * ordinary values lose most of their precision; q8_0 confines the damage to blocks holding one.
 */
export const ERR_ROUNDTRIP_HEAVY_ORDINARY = { f16: 3e-4, bf16: 2.5e-3, q8_0: 0.06, i8: 0.2 } as const;
/**
 * linear with int8 weights (both weights and activations quantized) against f32 weights on the
 * GPT-2 shapes, relative Frobenius error of the output; x ~ N(0, 1), W ~ N(0, 1/K).
 */
export const ERR_LINEAR_INT8_VS_F32 = { f16: 3e-4, bf16: 2.5e-3, q8_0: 1e-2, i8: 1.4e-2 } as const;
/**
 * The same for the GGUF legacy and k-quant formats: dominated by the weights' own rounding, whose
 * relative RMSE on Gaussian data test/kquants.test.ts measures (q4_0 0.088 ... q6_k 0.018), plus
 * the activations' (per 32 or per 256).
 */
export const ERR_LINEAR_BLOCK_VS_F32 = {
  q4_0: 0.11, q4_1: 0.1, q5_0: 0.06, q5_1: 0.05, q2_k: 0.33, q3_k: 0.19, q4_k: 0.09, q5_k: 0.05, q6_k: 0.03,
  iq4_nl: 0.095, iq4_xs: 0.095,
} as const;
/** The same with heavy-tailed activations (1% of input features 30x larger). */
export const ERR_LINEAR_INT8_VS_F32_HEAVY = { f16: 3e-4, bf16: 2.5e-3, q8_0: 2e-2, i8: 7.5e-2 } as const;
/**
 * Linear weights converted to f16 / bf16 at load, against the f32 goldens. Measured max |diff|
 * on the fixtures: f16 0.0065 (GPT-2) and 0.0079 (Llama); bf16 0.096 and 0.096.
 */
export const TOL_MODEL_LOGITS_F16_WEIGHTS = 0.03;
export const TOL_MODEL_LOGITS_BF16_WEIGHTS = 0.3;
/**
 * WebGPU linear with int8/half weights dequantized in the kernel: activations stay f32, so only the
 * summation order differs from the reference (no activation quantization, unlike the CPU paths).
 */
export const TOL_WEBGPU_LINEAR_DEQUANT: Tolerance = TOL_GEMM_F32;
/** Several f32 ops chained on the device (norm, linear, activation, residual): per-op errors add. */
export const TOL_WEBGPU_CHAIN: Tolerance = { atol: 5e-4, rtol: 5e-4 };
/**
 * Encoder outputs (BERT hidden states, pooled vectors and head logits, of order 1 to 10) against
 * the PyTorch f32 goldens of tools/reference/make_encoders.py: |diff| <= atol + |ref| * rtol.
 */
export const TOL_MODEL_ENCODER_F32: Tolerance = { atol: 1e-4, rtol: 1e-4 };
/**
 * q8_0 linear weights (activations quantized per block of 32 where the backend does so) against the
 * f32 goldens: max |diff| of each output as a fraction of that output's largest |golden value|
 * (rounding error scales with the magnitudes a layer mixes, not with each small logit). Measured
 * over the 15 two-layer encoder fixtures: 0.053 (DistilBERT MLM logits, 1.38 of 25.8), hidden
 * states 0.027, pooled 0.046, classifier logits 0.023 on native; WebGPU below those.
 */
export const TOL_MODEL_ENCODER_Q8_0_OF_SCALE = 0.08;
/**
 * q8_0 linear weights in an encoder-decoder (T5) against the f32 goldens: decoder logits' max |diff|
 * as a fraction of the largest |golden logit| over every step; errors of the encoder reach every
 * step through cross-attention, and T5's unscaled scores sharpen them. Measured on the tiny T5
 * fixtures (tools/reference/make_seq2seq.py): 0.030 (v1.0, 0.109 of 3.60), 0.062 (v1.1, 0.704 of 11.4).
 */
export const TOL_MODEL_SEQ2SEQ_Q8_0_OF_SCALE = 0.08;
/**
 * Beam-search scores (summed f32 log-probabilities over up to 16 steps, divided by a length
 * power) against the PyTorch reference: each step's log-probabilities carry the logits' f32
 * error. Measured max |diff| on the trained tiny fixtures: 5.5e-6 (GPT-2), 7.6e-6 (Llama).
 */
export const TOL_BEAM_SCORE_F32: Tolerance = { atol: 1e-4, rtol: 1e-5 };
