// Token and position ops: embedding lookup, rotary position embedding, sinusoidal encoding.
// Memory-bound gathers and per-element trigonometry: one generic implementation, no ISA table.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "../formats.h"
#include "../half.h"
#include "../mapped_file.h"
#include "../common.h"
#include "../op.h"

namespace attnode {
namespace {

// table: (V, D) f32 | f16 | bf16 | a block format, ids: (...) i32 -> out: (..., D) f32. A block
// row (D a multiple of the block) is dequantized by the format table's reference, so a mapped GGUF token table
// is read in place instead of being widened to an f32 copy (147 MiB for GPT-2's).
OpRun prepare_embedding(Args& args) {
  const TensorView table = args.tensor("table", {DType::f32, DType::f16, DType::bf16, DType::q8_0, DType::q4_0, DType::q4_1, DType::q5_0,
                                                 DType::q5_1, DType::q2_k, DType::q3_k, DType::q4_k, DType::q5_k, DType::q6_k,
                                                 DType::iq4_nl, DType::iq4_xs});
  const TensorView ids = args.tensor("ids", {DType::i32});
  const TensorView out = args.tensor("out", {DType::f32});
  if (table.rank() != 2) args.range_error("'table' must have shape [vocab, dim], got " + table.shape_str());
  const int64_t vocab = table.dim(0), dim = table.dim(1);
  const FormatTraits& fmt = format_traits(table.dtype);
  if (dim % static_cast<int64_t>(fmt.block_size) != 0)
    args.range_error(std::string("'table' rows of ") + fmt.name + " hold whole blocks of " + std::to_string(fmt.block_size) +
                     "; dim " + std::to_string(dim) + " is not a multiple");
  // Bytes per row (element formats: D elements; block formats: D / block blocks).
  const size_t row_bytes = static_cast<size_t>(dim) / fmt.block_size * fmt.block_bytes;
  std::vector<int64_t> want = ids.shape;
  want.push_back(dim);
  args.expect_shape("out", out, want);
  const int32_t* pid = ids.as<int32_t>();
  for (size_t i = 0; i < ids.numel; ++i)
    if (pid[i] < 0 || pid[i] >= vocab)
      args.range_error("'ids[" + std::to_string(i) + "]' = " + std::to_string(pid[i]) + " is outside [0, " +
                       std::to_string(vocab) + ")");
  const DType dt = table.dtype;
  const void* pt = table.data;
  float* po = out.as<float>();
  const size_t n = ids.numel, d = static_cast<size_t>(dim);
  const bool mapped = table.mapped;
  return [=](const OpEnv& env) {
    // A mapped table is read in place long after load: each row goes through the SIGBUS guard
    // into a scratch row first, so a file truncated under the mapping fails this pass, not the process.
    std::atomic<bool> lost{false};
    env.pool->parallel_for(n, std::max<size_t>(1, 65536 / (d + 1)), [&](size_t s, size_t e) {
      std::vector<uint8_t> scratch(mapped ? row_bytes : 0);
      for (size_t t = s; t < e; ++t) {
        const int32_t id = pid[t];
        // The ids may have changed since validation (they are shared with JS): check again.
        CHECK(id >= 0 && id < vocab);
        const uint8_t* row = static_cast<const uint8_t*>(pt) + static_cast<size_t>(id) * row_bytes;
        if (mapped) {
          if (!MappedFile::guarded_copy(scratch.data(), row, row_bytes)) {
            lost.store(true, std::memory_order_relaxed);
            return;
          }
          row = scratch.data();
        }
        float* o = po + t * d;
        if (fmt.block_size > 1) {
          fmt.to_float(row, d, o);
        } else if (dt == DType::f32) {
          const float* src = reinterpret_cast<const float*>(row);
          for (size_t j = 0; j < d; ++j) o[j] = src[j];
        } else if (dt == DType::f16) {
          const uint16_t* src = reinterpret_cast<const uint16_t*>(row);
          for (size_t j = 0; j < d; ++j) o[j] = f16_to_f32(src[j]);
        } else {
          const uint16_t* src = reinterpret_cast<const uint16_t*>(row);
          for (size_t j = 0; j < d; ++j) o[j] = bf16_to_f32(src[j]);
        }
      }
    });
    if (lost.load())
      throw std::runtime_error(
          "the token table's file shrank under its mapping (truncated or rewritten on disk); reload the model");
  };
}

// Frequencies and angles are computed in f32 as Hugging Face's rotary embedding does, so that
// logits match PyTorch closely: inv_freq[i] = 1 / theta^(2i / rotaryDim), angle = pos * inv_freq.
// interleaved=false rotates pairs (i, i + rotaryDim/2) (HF rotate_half); true rotates (2i, 2i+1).
OpRun prepare_rope(Args& args) {
  const TensorView x = args.tensor("x", {DType::f32});
  const TensorView pos = args.tensor("positions", {DType::i32});
  const TensorView out = args.tensor("out", {DType::f32});
  if (x.rank() != 3) args.range_error("'x' must have shape [tokens, heads, headDim], got " + x.shape_str());
  const int64_t tokens = x.dim(0), heads = x.dim(1), hd = x.dim(2);
  args.expect_shape("positions", pos, {tokens});
  args.expect_shape("out", out, x.shape);
  args.expect_no_partial_overlap("out", out, "x", x);
  const double theta = args.number("theta", 10000.0, 1.0, 1e12);
  const int64_t rd = args.integer("rotaryDim", hd, 0, hd);
  if (rd % 2 != 0) args.range_error("'rotaryDim' must be even, got " + std::to_string(rd));
  const bool interleaved = args.boolean("interleaved", false);
  const int32_t* pp = pos.as<int32_t>();
  for (int64_t t = 0; t < tokens; ++t)
    if (pp[t] < 0) args.range_error("'positions[" + std::to_string(t) + "]' must be >= 0, got " + std::to_string(pp[t]));
  const size_t half = static_cast<size_t>(rd / 2), H = static_cast<size_t>(heads), D = static_cast<size_t>(hd);
  // Scaled rotary embeddings (ts/backend/ops/position.ts): given inverse frequencies, LongRoPE's
  // long ones past `longFrom`, dynamic NTK's raised base, and a factor on cos and sin.
  const TensorView inv_short = args.optional_tensor("invFreq", {DType::f32});
  const TensorView inv_long = args.optional_tensor("invFreqLong", {DType::f32});
  if (inv_short.present) args.expect_shape("invFreq", inv_short, {static_cast<int64_t>(half)});
  if (inv_long.present) {
    args.expect_shape("invFreqLong", inv_long, {static_cast<int64_t>(half)});
    if (!inv_short.present) args.range_error("'invFreqLong' needs 'invFreq' (the short factors) and 'longFrom'");
  }
  const int64_t long_from = args.integer("longFrom", 0, 1, int64_t{1} << 31);
  if (inv_long.present && long_from == 0) args.range_error("'invFreqLong' needs 'invFreq' (the short factors) and 'longFrom'");
  const float scale = static_cast<float>(args.number("scale", 1.0, 1e-6, 1e6));
  const double dyn_factor = args.number("dynamicFactor", 0.0, 1.0, 1e6);
  const int64_t dyn_original = args.integer("dynamicOriginal", 0, 1, int64_t{1} << 31);
  if ((dyn_factor == 0.0) != (dyn_original == 0)) args.range_error("'dynamicFactor' and 'dynamicOriginal' go together");
  if (dyn_factor != 0.0 && (inv_short.present || half < 2))
    args.range_error("'dynamicFactor' computes its own frequencies from 'theta' (no 'invFreq') and needs rotaryDim >= 4");
  const float* short_freq = inv_short.present ? inv_short.as<float>() : nullptr;
  const float* long_freq = inv_long.present ? inv_long.as<float>() : nullptr;
  const float* px = x.as<float>();
  float* po = out.as<float>();
  return [=](const OpEnv& env) {
    // The pass's longest position + 1 picks the table (read at run time: positions change per pass).
    int64_t longest = 0;
    for (int64_t t = 0; t < tokens; ++t) longest = std::max<int64_t>(longest, int64_t{pp[t]} + 1);
    std::vector<float> inv_freq(half);
    if (long_freq && longest > long_from) {
      std::copy(long_freq, long_freq + half, inv_freq.begin());
    } else if (short_freq) {
      std::copy(short_freq, short_freq + half, inv_freq.begin());
    } else {
      float base = static_cast<float>(theta);
      if (dyn_factor != 0.0 && longest > dyn_original) {
        const double f = dyn_factor, L = static_cast<double>(longest);
        base = static_cast<float>(theta * std::pow(f * L / static_cast<double>(dyn_original) - (f - 1.0),
                                                   static_cast<double>(rd) / static_cast<double>(rd - 2)));
      }
      for (size_t i = 0; i < half; ++i)
        inv_freq[i] = 1.0f / std::pow(base, static_cast<float>(2 * i) / static_cast<float>(rd));
    }
    env.pool->parallel_for(static_cast<size_t>(tokens), 16, [&](size_t s, size_t e) {
      std::vector<float> cs(half), sn(half);
      for (size_t t = s; t < e; ++t) {
        const float p = static_cast<float>(pp[t]);
        for (size_t i = 0; i < half; ++i) {
          const float a = p * inv_freq[i];
          cs[i] = std::cos(a) * scale;
          sn[i] = std::sin(a) * scale;
        }
        for (size_t h = 0; h < H; ++h) {
          const float* xi = px + (t * H + h) * D;
          float* o = po + (t * H + h) * D;
          for (size_t i = 0; i < half; ++i) {
            const size_t i0 = interleaved ? 2 * i : i, i1 = interleaved ? 2 * i + 1 : i + half;
            const float x0 = xi[i0], x1 = xi[i1];
            o[i0] = x0 * cs[i] - x1 * sn[i];
            o[i1] = x1 * cs[i] + x0 * sn[i];
          }
          for (size_t j = 2 * half; j < D; ++j) o[j] = xi[j];
        }
      }
    });
  };
}

// positions: (N) i32 -> out: (N, D) f32 with out[p, 2i] = sin(p / base^(2i/D)), out[p, 2i+1] = cos(...).
OpRun prepare_sinusoidal(Args& args) {
  const TensorView pos = args.tensor("positions", {DType::i32});
  const TensorView out = args.tensor("out", {DType::f32});
  const double base = args.number("base", 10000.0, 1.0, 1e12);
  if (pos.rank() != 1) args.range_error("'positions' must have shape [tokens], got " + pos.shape_str());
  if (out.rank() != 2 || out.dim(0) != pos.dim(0))
    args.range_error("'out' must have shape [" + std::to_string(pos.dim(0)) + ", dim], got " + out.shape_str());
  const int32_t* pp = pos.as<int32_t>();
  float* po = out.as<float>();
  const size_t n = pos.numel, d = static_cast<size_t>(out.dim(1));
  return [=](const OpEnv& env) {
    env.pool->parallel_for(n, 16, [&](size_t s, size_t e) {
      for (size_t t = s; t < e; ++t)
        for (size_t j = 0; j < d; ++j) {
          const double freq = std::pow(base, -static_cast<double>(j - j % 2) / static_cast<double>(d));
          const double a = static_cast<double>(pp[t]) * freq;
          po[t * d + j] = static_cast<float>(j % 2 == 0 ? std::sin(a) : std::cos(a));
        }
    });
  };
}

const OpRegistrar kEmbedding("embedding", prepare_embedding);
const OpRegistrar kRope("rope", prepare_rope);
const OpRegistrar kSinusoidal("sinusoidal", prepare_sinusoidal);

}  // namespace
}  // namespace attnode

namespace attnode {
namespace {
// Memory-bound gathers and trigonometry: one portable implementation under every Isa.
const KernelFamilyRegistrar kEmbeddingFamily("embedding", [](Isa) { return "generic"; });
const KernelFamilyRegistrar kRopeFamily("rope", [](Isa) { return "generic"; });
}  // namespace
}  // namespace attnode
