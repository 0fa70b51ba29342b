// Training steps of sequence models (issue 18), side by side with bench_seq_libtorch:
//   BM_Seq/tapegrad/lstm      LSTM(28 -> 128, batch_first) over 28 steps at batch 128, the last
//                             step's output -> Linear(128, 10), softmax cross-entropy, backward,
//                             Adam: examples/fashion_mnist_lstm's step
//   BM_Seq/gemm_floor/lstm    the matrix products of that step alone, through kernels::gemm
//   BM_Seq/tapegrad/encoder   one TransformerEncoderLayer(d_model 64, nhead 4, dim_feedforward
//                             128, dropout 0, relu, post-norm, batch_first) on 128 sequences of
//                             16 tokens, mean of the output as the loss, backward, Adam
//   BM_Seq/gemm_floor/encoder its matrix products alone
//
// Counters: allocs_per_step (heap allocations in the timed loop, alloc_counter.cpp), threads.
// Threads: TAPEGRAD_BENCH_THREADS=n sets tapegrad::set_num_threads(n).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "seq_workloads.hpp"
#include "tapegrad/kernels.hpp"
#include "tapegrad/losses.hpp"
#include "tapegrad/nn/linear.hpp"
#include "tapegrad/nn/rnn.hpp"
#include "tapegrad/nn/transformer.hpp"
#include "tapegrad/reduction.hpp"
#include "tapegrad/optim/adam.hpp"
#include "workloads.hpp"

namespace tb = tapegrad_bench;
namespace tg = tapegrad;
using tg::Array;

namespace {

template <class Step>
void run(benchmark::State& state, Step&& step) {
  for (int i = 0; i < 3; ++i) step();  // warm-up: the tape's buffers and the pools fill here
  const tb::AllocStats before = tb::alloc_stats();
  for (auto _ : state) step();
  const tb::AllocStats after = tb::alloc_stats();
  const double n = double(state.iterations());
  state.counters["allocs_per_step"] = double(after.count - before.count) / n;
  state.counters["threads"] = tg::num_threads();
}

Array<float> to_array(const std::vector<float>& v, const tg::Shape& shape) {
  Array<float> a = Array<float>::from_shape(shape);
  std::copy(v.begin(), v.end(), a.data());
  return a;
}

// ---- LSTM -------------------------------------------------------------------------------------

// The last step of h for every sequence: rows T·B... of the LSTM's output (B, T, H) -> (B, H).
template <class T>
tg::Var<T> last_step(const tg::Var<T>& y) {
  tg::Op<T> op("last_step", {y});
  const std::size_t B = y.shape()[0], Ts = y.shape()[1], H = y.shape()[2];
  Array<T>& out = op.output({B, H});
  for (std::size_t b = 0; b < B; ++b) std::copy_n(y.value().data() + (b * Ts + Ts - 1) * H, H, out.data() + b * H);
  op.save_scalar(0, double(Ts));
  return op.finish([](tg::Backward<T>& b) {
    auto t = b.grad_target(0);
    if (!t.add) t.grad.fill(T(0));
    const std::size_t B = t.grad.shape()[0], Ts = t.grad.shape()[1], H = t.grad.shape()[2];
    for (std::size_t i = 0; i < B; ++i) {
      T* d = t.grad.data() + (i * Ts + Ts - 1) * H;
      const T* g = b.grad_out().data() + i * H;
      for (std::size_t j = 0; j < H; ++j) d[j] += g[j];
    }
  });
}

struct LstmNet {
  LstmNet()
      : rng(42),
        lstm(tg::nn::LSTMOptions(tb::kLstmInput, tb::kLstmHidden).batch_first(true), rng),
        head(tg::nn::LinearOptions(tb::kLstmHidden, tb::kClasses), rng),
        opt(params(), tg::optim::AdamOptions(1e-3)) {
    std::vector<float> xv;
    tb::make_sequence_data(tb::kLstmBatch * tb::kLstmSteps * tb::kLstmInput, xv, labels);
    labels.resize(tb::kLstmBatch);
    x = to_array(xv, {tb::kLstmBatch, tb::kLstmSteps, tb::kLstmInput});
  }
  std::vector<tg::Parameter<float>> params() {
    auto p = lstm.parameters();
    for (auto& q : head.parameters()) p.push_back(q);
    return p;
  }
  float step() {
    opt.zero_grad();
    auto r = lstm.forward(tape.constant(x));
    auto logits = head.forward(last_step(r.output));
    auto loss = tg::softmax_cross_entropy(logits, labels);
    const float l = loss.item();
    tape.backward(loss);
    opt.step();
    return l;
  }
  tg::Rng rng;
  tg::nn::LSTM<float> lstm;
  tg::nn::Linear<float> head;
  tg::optim::Adam<float> opt;
  tg::Tape<float> tape;
  Array<float> x;
  std::vector<std::int64_t> labels;
};

void BM_LstmTapegrad(benchmark::State& state) {
  LstmNet net;
  run(state, [&] { benchmark::DoNotOptimize(net.step()); });
}

// The products of the LSTM step, in the order the step makes them, on buffers of their shapes.
void BM_LstmGemmFloor(benchmark::State& state) {
  const std::size_t B = tb::kLstmBatch, T = tb::kLstmSteps, I = tb::kLstmInput, H = tb::kLstmHidden, G = 4 * H;
  const std::size_t C = tb::kClasses;
  Array<float> x = xt::ones<float>({T * B, I}), w_ih = xt::ones<float>({G, I}), w_hh = xt::ones<float>({G, H});
  Array<float> gates = xt::zeros<float>({T * B, G}), h = xt::zeros<float>({(T + 1) * B, H});
  Array<float> dw_ih = xt::zeros<float>({G, I}), dw_hh = xt::zeros<float>({G, H}), dh = xt::zeros<float>({B, H});
  Array<float> w_out = xt::zeros<float>({H, C}), logits = xt::zeros<float>({B, C}), dw_out = xt::zeros<float>({H, C});
  w_ih *= 0.01f;
  w_hh *= 0.01f;
  run(state, [&] {
    tg::kernels::gemm(false, true, T * B, G, I, 1.f, x.data(), I, w_ih.data(), I, 1.f, gates.data(), G);
    for (std::size_t t = 1; t < T; ++t) {
      tg::kernels::gemm(false, true, B, G, H, 1.f, h.data() + t * B * H, H, w_hh.data(), H, 1.f,
                        gates.data() + t * B * G, G);
    }
    tg::kernels::gemm(false, false, B, C, H, 1.f, h.data() + T * B * H, H, w_out.data(), C, 0.f, logits.data(), C);
    tg::kernels::gemm(true, false, H, C, B, 1.f, h.data() + T * B * H, H, logits.data(), C, 0.f, dw_out.data(), C);
    tg::kernels::gemm(false, true, B, H, C, 1.f, logits.data(), C, w_out.data(), C, 0.f, dh.data(), H);
    for (std::size_t t = T; t-- > 1;) {
      tg::kernels::gemm(false, false, B, H, G, 1.f, gates.data() + t * B * G, G, w_hh.data(), H, 0.f, dh.data(), H);
    }
    tg::kernels::gemm(true, false, G, H, T * B, 1.f, gates.data(), G, h.data(), H, 0.f, dw_hh.data(), H);
    tg::kernels::gemm(true, false, G, I, T * B, 1.f, gates.data(), G, x.data(), I, 0.f, dw_ih.data(), I);
    benchmark::ClobberMemory();
  });
}

// ---- Transformer encoder layer --------------------------------------------------------------------

struct EncoderNet {
  EncoderNet()
      : rng(42),
        layer(tg::nn::TransformerEncoderLayerOptions(tb::kEncModel, tb::kEncHeads)
                  .dim_feedforward(tb::kEncFeedforward)
                  .dropout(0)
                  .batch_first(true),
              rng),
        opt(layer.parameters(), tg::optim::AdamOptions(1e-3)) {
    std::vector<float> xv;
    std::vector<std::int64_t> unused;
    tb::make_sequence_data(tb::kEncBatch * tb::kEncTokens * tb::kEncModel, xv, unused);
    x = to_array(xv, {tb::kEncBatch, tb::kEncTokens, tb::kEncModel});
  }
  float step() {
    opt.zero_grad();
    auto loss = tg::mean(layer.forward(tape.constant(x)));
    const float l = loss.item();
    tape.backward(loss);
    opt.step();
    return l;
  }
  tg::Rng rng;
  tg::nn::TransformerEncoderLayer<float> layer;
  tg::optim::Adam<float> opt;
  tg::Tape<float> tape;
  Array<float> x;
};

void BM_EncoderTapegrad(benchmark::State& state) {
  EncoderNet net;
  run(state, [&] { benchmark::DoNotOptimize(net.step()); });
}

// The products of the encoder step: the four projections forward, their weight gradients and
// input gradients (but the first layer's input), and each head's four small attention products
// forward and backward (6 per head), through kernels::gemm.
void BM_EncoderGemmFloor(benchmark::State& state) {
  const std::size_t N = tb::kEncBatch * tb::kEncTokens, E = tb::kEncModel, F = tb::kEncFeedforward;
  const std::size_t H = tb::kEncHeads, T = tb::kEncTokens, dh = E / H, BH = tb::kEncBatch * H;
  Array<float> x = xt::ones<float>({N, E}), w_in = xt::ones<float>({3 * E, E}), qkv = xt::zeros<float>({N, 3 * E});
  Array<float> w_out = xt::ones<float>({E, E}), w1 = xt::ones<float>({E, F}), w2 = xt::ones<float>({F, E});
  Array<float> a = xt::zeros<float>({N, E}), h = xt::zeros<float>({N, F}), y = xt::zeros<float>({N, E});
  Array<float> dw_in = w_in, dw_out = w_out, dw1 = w1, dw2 = w2, da = a, dh_ = h, dqkv = qkv;
  Array<float> scores = xt::zeros<float>({BH, T, T});
  using tg::kernels::gemm;
  run(state, [&] {
    gemm(false, true, N, 3 * E, E, 1.f, x.data(), E, w_in.data(), E, 0.f, qkv.data(), 3 * E);
    for (std::size_t n = 0; n < BH; ++n) {  // scores and output per head
      const float* q = qkv.data() + (n / H) * T * 3 * E + (n % H) * dh;
      gemm(false, true, T, T, dh, 1.f, q, 3 * E, q + E, 3 * E, 0.f, scores.data() + n * T * T, T);
      gemm(false, false, T, dh, T, 1.f, scores.data() + n * T * T, T, q + 2 * E, 3 * E, 0.f,
           a.data() + (n / H) * T * E + (n % H) * dh, E);
    }
    gemm(false, false, N, E, E, 1.f, a.data(), E, w_out.data(), E, 0.f, y.data(), E);
    gemm(false, false, N, F, E, 1.f, y.data(), E, w1.data(), F, 0.f, h.data(), F);
    gemm(false, false, N, E, F, 1.f, h.data(), F, w2.data(), E, 0.f, y.data(), E);
    gemm(true, false, F, E, N, 1.f, h.data(), F, y.data(), E, 0.f, dw2.data(), E);
    gemm(false, true, N, F, E, 1.f, y.data(), E, w2.data(), E, 0.f, dh_.data(), F);
    gemm(true, false, E, F, N, 1.f, y.data(), E, dh_.data(), F, 0.f, dw1.data(), F);
    gemm(false, true, N, E, F, 1.f, dh_.data(), F, w1.data(), F, 0.f, da.data(), E);
    gemm(true, false, E, E, N, 1.f, a.data(), E, da.data(), E, 0.f, dw_out.data(), E);
    gemm(false, true, N, E, E, 1.f, da.data(), E, w_out.data(), E, 0.f, a.data(), E);
    for (std::size_t n = 0; n < BH; ++n) {  // dP = dO vᵀ, dV = Pᵀ dO, dQ = dS k, dK = dSᵀ q
      float* q = qkv.data() + (n / H) * T * 3 * E + (n % H) * dh;
      float* dq = dqkv.data() + (n / H) * T * 3 * E + (n % H) * dh;
      const float* d_o = a.data() + (n / H) * T * E + (n % H) * dh;
      float* sc = scores.data() + n * T * T;
      gemm(false, true, T, T, dh, 1.f, d_o, E, q + 2 * E, 3 * E, 0.f, sc, T);
      gemm(true, false, T, dh, T, 1.f, sc, T, d_o, E, 0.f, dq + 2 * E, 3 * E);
      gemm(false, false, T, dh, T, 1.f, sc, T, q + E, 3 * E, 0.f, dq, 3 * E);
      gemm(true, false, T, dh, T, 1.f, sc, T, q, 3 * E, 0.f, dq + E, 3 * E);
    }
    gemm(true, false, 3 * E, E, N, 1.f, dqkv.data(), 3 * E, x.data(), E, 0.f, dw_in.data(), E);
    benchmark::ClobberMemory();
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (const int t = tb::bench_threads(); t > 0) tg::set_num_threads(t);
  benchmark::RegisterBenchmark("BM_Seq/tapegrad/lstm", BM_LstmTapegrad)->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_Seq/gemm_floor/lstm", BM_LstmGemmFloor)->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_Seq/tapegrad/encoder", BM_EncoderTapegrad)->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_Seq/gemm_floor/encoder", BM_EncoderGemmFloor)->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("tapegrad_threads", std::to_string(tg::num_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
