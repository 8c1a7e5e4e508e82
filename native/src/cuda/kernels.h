// Host entry points of the CUDA kernels, under the CPU ops' contracts (native/src/cpu/*.h,
// ts/backend/ops/*.ts). Every pointer is device memory; every call is asynchronous on `s` and
// checks its launch (ATTNODE_CUDA_CHECK_LAUNCH). Argument validation is the caller's (the addon
// checks shapes before anything reaches here); these only refuse shapes the kernels cannot take.
// Half-precision types travel as their 16 bits (uint16_t), as in native/src/half.h.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace attnode::cuda {

enum class Half { f16, bf16 };

// ---- conversion and element-wise (elementwise.cu) ----
// out[i] = half(x[i]) rounded to nearest even.  x: (n) f32 -> out: (n) f16 | bf16 bits
void convert_f32_half(const float* x, uint16_t* out, size_t n, Half type, cudaStream_t s);
// out[i] = a[i] + b[i] (out may alias a or b).  a, b, out: (n) f32
void add_f32(const float* a, const float* b, float* out, size_t n, cudaStream_t s);
// out[i] = a[i] * b[i] (SwiGLU's gate times up; out may alias), out[i] = x[i] * scale.
void mul_f32(const float* a, const float* b, float* out, size_t n, cudaStream_t s);
void scale_f32(const float* x, float scale, float* out, size_t n, cudaStream_t s);
// GELU (erf or tanh form), SiLU, as kElementwiseScalar.  x, out: (n) f32
void gelu_erf_f32(const float* x, float* out, size_t n, cudaStream_t s);
void gelu_tanh_f32(const float* x, float* out, size_t n, cudaStream_t s);
void silu_f32(const float* x, float* out, size_t n, cudaStream_t s);
// Row-wise over `rows` rows of n values.  x, out: (rows, n) f32; w, b: (n) f32 (b may be null)
void softmax_rows_f32(const float* x, float* out, size_t rows, size_t n, cudaStream_t s);
void rmsnorm_rows_f32(const float* x, const float* w, float eps, float* out, size_t rows, size_t n, cudaStream_t s);
void layernorm_rows_f32(const float* x, const float* w, const float* b, float eps, float* out, size_t rows, size_t n,
                        cudaStream_t s);
// Rotary embedding (ops/position.cc prepare_rope): angle = pos * inv_freq[i], cos and sin times
// `scale`; pairs (i, i + rd/2), or (2i, 2i+1) when interleaved; columns past rd copied. The host
// computes inv_freq as the CPU op does (theta, scaled variants), so both read the same table.
//   x, out: (T, H, D) f32; positions: (T) i32; inv_freq: (rd / 2) f32
void rope_f32(const float* x, const int32_t* positions, const float* inv_freq, float scale, float* out, size_t t,
              size_t h, size_t d, size_t rotary_dim, bool interleaved, cudaStream_t s);
// Token embedding.  table: (V, D) f32 | f16 | bf16; ids: (N) i32, each in [0, V) -> out: (N, D) f32
enum class TableType { f32, f16, bf16 };
void embedding(const void* table, TableType type, const int32_t* ids, float* out, size_t n, size_t d, cudaStream_t s);

// ---- dense GEMM and GEMV (gemm.cu, gemv.cu), the `linear` contract: ----
//   c[i, j] = sum_p a[i, p] * w[j, p] + bias[j]   a: (M, K), w: (N, K) (the weight layout), c: (M, N) f32
// bias: (N) f32 or null.
// Tensor cores (mma.sync m16n8k16, f32 accumulation) with a and w in the same half type.
void gemm_half(const uint16_t* a, const uint16_t* w, const float* bias, float* c, size_t m, size_t n, size_t k,
               Half type, cudaStream_t s);
// f32 on the CUDA cores (tiled SIMT), for f32 weights.
void gemm_f32(const float* a, const float* w, const float* bias, float* c, size_t m, size_t n, size_t k,
              cudaStream_t s);
// Few rows (decode): one warp per output column streams w once, f32 activations.  M <= kGemvMaxRows.
constexpr size_t kGemvMaxRows = 8;
void gemv_half(const float* a, const uint16_t* w, const float* bias, float* c, size_t m, size_t n, size_t k, Half type,
               cudaStream_t s);
void gemv_f32(const float* a, const float* w, const float* bias, float* c, size_t m, size_t n, size_t k,
              cudaStream_t s);

// ---- q8_0 (quant.cu) ----
// Device layout of q8_0 weights, repacked once at upload from GGUF's 34-byte blocks so that
// int8 loads are 16-byte aligned: quants (N, K) s8 rows, then scales (N, K / 32) f16 bits.
struct Q8_0Device {
  const int8_t* q;        // (N, K) s8
  const uint16_t* d;      // (N, K / 32) f16 bits
  size_t n, k;
};
// Host-side repack: blocks (N * K / 32 blocks of 34 bytes, GGUF order) -> q, d.
void q8_0_split_blocks(const uint8_t* blocks, size_t n, size_t k, int8_t* q, uint16_t* d);
// Activations quantized in groups of 32 exactly as quant_format.h quantize_activations (NaN or Inf
// in a group: NaN scale, zero quants).  x: (M, K) f32 -> xq: (M, K) s8, xs: (M, K / 32) f32
void quantize_rows_q8(const float* x, int8_t* xq, float* xs, size_t m, size_t k, cudaStream_t s);
// c[i, j] = sum_b f16(d[j, b]) * xs[i, b] * dot(q[j, b], xq[i, b]) + bias[j] with dp4a.  M <= kGemvMaxRows
void gemv_q8_0(const Q8_0Device& w, const int8_t* xq, const float* xs, const float* bias, float* c, size_t m,
               cudaStream_t s);

// ---- k-quants (kquant.cu) ----
// GGUF Q4_K (144 bytes) and Q6_K (210 bytes) super-blocks of 256 as stored, K / 256 per row,
// dequantized in registers as cpu/block_formats.cc does; f32 activations.  M <= kGemvMaxRows
//   w: (N, K / 256) blocks, a: (M, K) f32 -> c: (M, N) f32
void gemv_q4_k(const float* a, const uint8_t* w, const float* bias, float* c, size_t m, size_t n, size_t k,
               cudaStream_t s);
void gemv_q6_k(const float* a, const uint8_t* w, const float* bias, float* c, size_t m, size_t n, size_t k,
               cudaStream_t s);

// Key/value rows, contiguous or in the pages of sequence state (state.h, paged_rows.h): row j of
// kv head g starts at
//   base + j * row_bytes + g * D * elem                                          (pages null)
//   pages[(first + j) >> shift] + offset + ((first + j) & (page_rows - 1)) * row_bytes + g * D * elem
struct DeviceRows {
  const char* base = nullptr;          // contiguous (Tk, Hkv, D) rows, or null when paged
  const char* const* pages = nullptr;  // device array of device page pointers
  size_t page_rows = 1;                // a power of two, 1 << shift
  int shift = 0;
  size_t row_bytes = 0;
  size_t offset = 0;
  size_t first = 0;
};
// ---- `linear` as the backend calls it (linear.cu): f32 activations, any weight format ----
// Few rows go to the GEMV (activations stay f32); more to the tensor cores, with the activations
// rounded to the weight's half type first (into `scratch`, M * K halves), so for M > kGemvMaxRows
// the result is that of the rounded activations. q8_0 quantizes the activations (into scratch_q:
// M * K bytes, scratch_s: M * K / 32 floats) and runs the GEMV kGemvMaxRows rows at a time.
//   x: (M, K) f32, bias: (N) f32 or null -> c: (M, N) f32
void linear_half(const float* x, const uint16_t* w, const float* bias, float* c, size_t m, size_t n, size_t k, Half type,
                 uint16_t* scratch, cudaStream_t s);
void linear_q8_0(const float* x, const Q8_0Device& w, const float* bias, float* c, size_t m, int8_t* scratch_q,
                 float* scratch_s, cudaStream_t s);

// Appends rows to K or V in sequence state: src row r (E f32 values, E = Hkv * D, rows src_ld
// floats apart, so K and V can be read straight out of a fused QKV output) becomes row r of `dst`
// (DeviceRows addressing, head offset 0), stored as f16 when `f16`.  src: (R, src_ld) f32
void write_rows(const float* src, size_t src_ld, const DeviceRows& dst, size_t rows, size_t elems, bool f16,
                cudaStream_t s);

// ---- attention (attention.cu), the cpu/attention.h AttentionProblem without mask and bias ----
struct AttentionArgs {
  const float* q;      // q: (Tq, Hq, D) f32
  DeviceRows k, v;     // (Tk, Hkv, D) f32 | f16 (kv_f16)
  bool kv_f16 = false;
  float* out;          // out: (Tq, Hq, D) f32
  size_t tq, tk, hq, hkv, d;  // D <= kAttnMaxD; Hq a multiple of Hkv
  int64_t q_offset = 0;        // key position of query 0
  bool causal = false;
  float scale = 1.0f;
  int64_t window = 0;          // query i sees keys j > q_offset + i - window; 0: none
  float softcap = 0.0f;        // s -> tanh(s / softcap) * softcap; 0: none
  // A generated per-head bias (T5 buckets, ALiBi) added after the scale and softcap:
  // bias: (Hq, Tq + Tk - 1) f32, query row i and key j read bias[h][j - i + Tq - 1]; null: none.
  const float* bias = nullptr;
};
constexpr size_t kAttnMaxD = 256;
// Flash-style, O(D) state per row: every (query, head) row streams its visible keys with an online
// softmax; long key ranges are split over blocks and merged (flash-decoding), so one decode
// token still fills the device. `workspace` holds the partials: attention_workspace_floats().
size_t attention_workspace_floats(const AttentionArgs& a);
void attention_f32(const AttentionArgs& a, float* workspace, cudaStream_t s);

// ---- what a model's plan needs besides the above (model_ops.cu) ----
// Broadcast over a suffix: out[i] = a[i] + b[i % nb] (and a[i] * b[i % nb]); nb divides n;
// out may alias a.  a, out: (n) f32, b: (nb) f32
void add_bcast_f32(const float* a, const float* b, float* out, size_t n, size_t nb, cudaStream_t s);
void mul_bcast_f32(const float* a, const float* b, float* out, size_t n, size_t nb, cudaStream_t s);
// max(x, 0) and tanh(x), in place allowed.  x, out: (n) f32
void relu_f32(const float* x, float* out, size_t n, cudaStream_t s);
void tanh_f32(const float* x, float* out, size_t n, cudaStream_t s);
// The attention bias table of ts/backend/ops/position-bias.ts positionBiasTable: entry [h][idx]
// is the bias of relative position rel = idx - (Tq - 1) - q_offset (key minus query).
//   T5: table: (buckets, Hq) f32, bias = table[bucket(rel) * Hq + h], buckets as HF's
//       _relative_position_bucket in f32; ALiBi: table: (Hq) f32 slopes, bias = slope[h] * rel.
//   -> out: (Hq, Tq + Tk - 1) f32
enum class PositionBiasKind { t5, alibi };
struct PositionBiasArgs {
  PositionBiasKind kind = PositionBiasKind::t5;
  const float* table = nullptr;
  size_t buckets = 0;        // t5
  int64_t max_distance = 128;  // t5
  bool bidirectional = false;  // t5
};
void position_bias_table_f32(const PositionBiasArgs& b, float* out, size_t hq, size_t tq, size_t tk, int64_t q_offset,
                             cudaStream_t s);

}  // namespace attnode::cuda
