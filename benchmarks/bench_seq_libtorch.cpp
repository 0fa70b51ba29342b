// bench_seq's training steps in libtorch's C++ frontend (issue 18): BM_Seq/libtorch/lstm and
// BM_Seq/libtorch/encoder, with the same sizes, data and counters as bench_seq. Built only when
// find_package(Torch) succeeds.
//
// Threads: TAPEGRAD_BENCH_THREADS=n calls torch::set_num_threads(n) and sets OpenBLAS's pool
// (where Debian's libtorch runs its products) to n.
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "seq_workloads.hpp"
#include "workloads.hpp"

namespace tb = tapegrad_bench;

namespace {

void set_blas_threads(int n) {
  using Fn = void (*)(int);
  if (auto f = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(n);
}

template <class Step>
void run(benchmark::State& state, Step&& step) {
  for (int i = 0; i < 3; ++i) step();
  const tb::AllocStats before = tb::alloc_stats();
  for (auto _ : state) step();
  const tb::AllocStats after = tb::alloc_stats();
  state.counters["allocs_per_step"] = double(after.count - before.count) / double(state.iterations());
  state.counters["threads"] = torch::get_num_threads();
}

torch::Tensor labels_tensor(const std::vector<std::int64_t>& labels, std::size_t n) {
  return torch::from_blob(const_cast<std::int64_t*>(labels.data()), {std::int64_t(n)}, torch::kInt64).clone();
}

struct LstmNet {
  LstmNet()
      : lstm(torch::nn::LSTMOptions(tb::kLstmInput, tb::kLstmHidden).batch_first(true)),
        head(tb::kLstmHidden, tb::kClasses) {
    torch::manual_seed(42);
    std::vector<torch::Tensor> params = lstm->parameters();
    for (auto& p : head->parameters()) params.push_back(p);
    opt = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(1e-3));
    std::vector<float> xv;
    std::vector<std::int64_t> lv;
    tb::make_sequence_data(tb::kLstmBatch * tb::kLstmSteps * tb::kLstmInput, xv, lv);
    x = torch::from_blob(xv.data(), {std::int64_t(tb::kLstmBatch), std::int64_t(tb::kLstmSteps),
                                     std::int64_t(tb::kLstmInput)})
            .clone();
    y = labels_tensor(lv, tb::kLstmBatch);
  }
  float step() {
    opt->zero_grad();
    auto out = std::get<0>(lstm->forward(x));
    auto logits = head->forward(out.select(1, -1));
    auto loss = torch::nn::functional::cross_entropy(logits, y);
    loss.backward();
    opt->step();
    return loss.item<float>();
  }
  torch::nn::LSTM lstm;
  torch::nn::Linear head;
  std::unique_ptr<torch::optim::Adam> opt;
  torch::Tensor x, y;
};

void BM_Lstm(benchmark::State& state) {
  LstmNet net;
  run(state, [&] { benchmark::DoNotOptimize(net.step()); });
}

// The encoder layer: libtorch 1.13's C++ TransformerEncoderLayer is sequence-first and
// post-norm (it has no batch_first or norm_first), so the input is (T, B, d).
struct EncoderNet {
  EncoderNet()
      : layer(torch::nn::TransformerEncoderLayerOptions(tb::kEncModel, tb::kEncHeads)
                  .dim_feedforward(tb::kEncFeedforward)
                  .dropout(0)) {
    torch::manual_seed(42);
    opt = std::make_unique<torch::optim::Adam>(layer->parameters(), torch::optim::AdamOptions(1e-3));
    std::vector<float> xv;
    std::vector<std::int64_t> unused;
    tb::make_sequence_data(tb::kEncBatch * tb::kEncTokens * tb::kEncModel, xv, unused);
    x = torch::from_blob(xv.data(), {std::int64_t(tb::kEncBatch), std::int64_t(tb::kEncTokens),
                                     std::int64_t(tb::kEncModel)})
            .transpose(0, 1)
            .contiguous();
  }
  float step() {
    opt->zero_grad();
    auto loss = layer->forward(x).mean();
    loss.backward();
    opt->step();
    return loss.item<float>();
  }
  torch::nn::TransformerEncoderLayer layer;
  std::unique_ptr<torch::optim::Adam> opt;
  torch::Tensor x;
};

void BM_Encoder(benchmark::State& state) {
  EncoderNet net;
  run(state, [&] { benchmark::DoNotOptimize(net.step()); });
}

}  // namespace

int main(int argc, char** argv) {
  if (const int t = tb::bench_threads(); t > 0) {
    torch::set_num_threads(t);
    set_blas_threads(t);
  }
  benchmark::RegisterBenchmark("BM_Seq/libtorch/lstm", BM_Lstm)->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_Seq/libtorch/encoder", BM_Encoder)->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("torch_threads", std::to_string(torch::get_num_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
