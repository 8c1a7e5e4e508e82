// Recurrent layers: rnn (Elman) and lstm (PyTorch gate order i, f, g, o), batched over
// independent sequences and sequential in t. Checks here; matvec kernels in cpu/attention.h.
#include <cmath>

#include "../common.h"
#include "../cpu/attention.h"
#include "../op.h"
#include "../scratch.h"

namespace attnode {
namespace {

// Below this many multiply-adds per step a step's matvec runs on one thread: waking the pool
// costs more than it saves.
constexpr size_t kStepParallelMacs = 1 << 18;

struct Recurrent {
  const float* x;    // x: (B, T, I) f32
  const float* wih;  // wih: (G*H, I) f32
  const float* whh;  // whh: (G*H, H) f32
  const float* bias;  // bias: (G*H) f32 or null
  const float* h0;   // h0: (B, H) f32 or null
  const float* c0;   // c0: (B, H) f32 or null (lstm)
  float* out;        // out: (B, T, H) f32
  size_t b, t, i, h, gates;
};

Recurrent read_recurrent(Args& args, size_t gates) {
  const TensorView x = args.tensor("x", {DType::f32});
  const TensorView wih = args.tensor("wIh", {DType::f32});
  const TensorView whh = args.tensor("wHh", {DType::f32});
  const TensorView bias = args.optional_tensor("bias", {DType::f32});
  const TensorView h0 = args.optional_tensor("h0", {DType::f32});
  const TensorView c0 = gates == 4 ? args.optional_tensor("c0", {DType::f32}) : TensorView{};
  const TensorView out = args.tensor("out", {DType::f32});
  if (x.rank() != 3) args.range_error("'x' must have shape [B, T, I], got " + x.shape_str());
  const int64_t g = static_cast<int64_t>(gates);
  if (whh.rank() != 2 || whh.dim(0) != g * whh.dim(1))
    args.range_error(std::string("'wHh' must have shape [") + (gates == 1 ? "" : "4*") + "H, H], got " + whh.shape_str());
  const int64_t B = x.dim(0), T = x.dim(1), I = x.dim(2), H = whh.dim(1);
  args.expect_shape("wIh", wih, {g * H, I});
  if (bias.present) args.expect_shape("bias", bias, {g * H});
  if (h0.present) args.expect_shape("h0", h0, {B, H});
  if (c0.present) args.expect_shape("c0", c0, {B, H});
  args.expect_shape("out", out, {B, T, H});
  for (const auto& [name, t] : {std::pair<const char*, const TensorView*>{"x", &x}, {"wIh", &wih}, {"wHh", &whh},
                                {"bias", &bias}, {"h0", &h0}, {"c0", &c0}})
    if (t->present) args.expect_no_partial_overlap("out", out, name, *t);
  return {x.as<float>(),
          wih.as<float>(),
          whh.as<float>(),
          bias.present ? bias.as<float>() : nullptr,
          h0.present ? h0.as<float>() : nullptr,
          c0.present ? c0.as<float>() : nullptr,
          out.as<float>(),
          static_cast<size_t>(B),
          static_cast<size_t>(T),
          static_cast<size_t>(I),
          static_cast<size_t>(H),
          gates};
}

inline float sigmoid(float z) { return 1.0f / (1.0f + std::exp(-z)); }

// Input projections for every step at once (independent in t, so fully parallel), then the
// recurrence: z = xp_t + wHh h_{t-1}, then the gate nonlinearity, one step after another.
void run_recurrent(const Recurrent& r, const OpEnv& env) {
  const size_t GH = r.gates * r.h, rows = r.b * r.t, H = r.h;
  if (rows == 0 || H == 0) return;
  const auto matvec = attention_kernels(env.isa).matvec_f32;
  ScratchBuffer xp_buf(rows * GH);  // xp: (B, T, G*H)
  ScratchBuffer z_buf(r.b * GH);    // z: (B, G*H), one step's pre-activations
  ScratchBuffer c_buf(r.b * H);     // c: (B, H), the LSTM cell
  float* xp = xp_buf.data();
  float* z = z_buf.data();
  float* c = c_buf.data();
  env.pool->parallel_for(rows, std::max<size_t>(1, 65536 / (GH * r.i + 1)), [&](size_t s, size_t e) {
    for (size_t row = s; row < e; ++row) {
      float* y = xp + row * GH;
      matvec(r.wih, r.x + row * r.i, y, GH, r.i);
      if (r.bias)
        for (size_t k = 0; k < GH; ++k) y[k] += r.bias[k];
    }
  });
  if (r.c0)
    for (size_t k = 0; k < r.b * H; ++k) c[k] = r.c0[k];
  std::vector<float> zeros(H, 0.0f);
  const bool parallel = r.b * GH * H >= kStepParallelMacs;
  const size_t chunk = 64;  // rows of wHh per task
  const size_t tasks_per_seq = (GH + chunk - 1) / chunk;
  for (size_t t = 0; t < r.t; ++t) {
    auto prev = [&](size_t b) -> const float* {
      if (t > 0) return r.out + (b * r.t + t - 1) * H;
      return r.h0 ? r.h0 + b * H : zeros.data();
    };
    auto step = [&](size_t s, size_t e) {
      for (size_t task = s; task < e; ++task) {
        const size_t b = task / tasks_per_seq, r0 = (task % tasks_per_seq) * chunk, n = std::min(chunk, GH - r0);
        float* zb = z + b * GH + r0;
        matvec(r.whh + r0 * H, prev(b), zb, n, H);
        const float* xb = xp + (b * r.t + t) * GH + r0;
        for (size_t k = 0; k < n; ++k) zb[k] += xb[k];
      }
    };
    if (parallel) env.pool->parallel_for(r.b * tasks_per_seq, 1, step);
    else step(0, r.b * tasks_per_seq);
    for (size_t b = 0; b < r.b; ++b) {
      const float* zb = z + b * GH;
      float* hb = r.out + (b * r.t + t) * H;
      if (r.gates == 1) {
        for (size_t j = 0; j < H; ++j) hb[j] = std::tanh(zb[j]);
        continue;
      }
      float* cb = c + b * H;
      for (size_t j = 0; j < H; ++j) {
        const float ig = sigmoid(zb[j]), fg = sigmoid(zb[H + j]), gg = std::tanh(zb[2 * H + j]), og = sigmoid(zb[3 * H + j]);
        cb[j] = fg * cb[j] + ig * gg;
        hb[j] = og * std::tanh(cb[j]);
      }
    }
  }
}

OpRun prepare_rnn(Args& args) {
  const Recurrent r = read_recurrent(args, 1);
  return [r](const OpEnv& env) { run_recurrent(r, env); };
}

OpRun prepare_lstm(Args& args) {
  const Recurrent r = read_recurrent(args, 4);
  return [r](const OpEnv& env) { run_recurrent(r, env); };
}

const OpRegistrar kRnn("rnn", prepare_rnn);
const OpRegistrar kLstm("lstm", prepare_lstm);

}  // namespace
}  // namespace attnode
