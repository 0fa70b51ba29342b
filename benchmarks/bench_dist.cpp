// Measurements for data-parallel training (docs/distributed.md), run under mpirun:
//
//   mpirun -np 2 build/benchmarks/bench_dist step      [--batch 128] [--steps 200] [--threads 1]
//       the Fashion-MNIST MLP's step on every rank, phase by phase: forward + backward, gradient
//       averaging (GradientReducer::average), Adam; the share of the step that is communication.
//   mpirun -np 2 build/benchmarks/bench_dist buckets   [--elements N]
//       gradient averaging of N floats (default: the MLP's 235,146) for bucket sizes 16 KiB .. all.
//   mpirun -np 2 build/benchmarks/bench_dist sizes
//       MPI_Allreduce of 4 B .. 16 MiB: latency and bandwidth for the cost model.
//   mpirun -np 2 build/benchmarks/bench_dist overlap
//       whether a non-blocking all-reduce (MPI_Iallreduce) can hide behind computation here:
//       compute alone, all-reduce alone, one after the other, Iallreduce + compute + Wait, and the
//       same with MPI_Test between slices of the computation.
//   build/benchmarks/bench_dist compute (no MPI needed: one process)
//       the MLP's forward + backward + Adam at per-process batches 128, 64, ..., 2, one thread,
//       and single-thread SGEMM throughput: the compute side of the cost model.
//   mpirun -np 2 build/benchmarks/bench_dist deterministic [--batch 128] [--steps 100]
//       DataParallel's step, ordinary and deterministic.
//
// Every timing is the median over repetitions; rank 0 prints. No assertions: numbers only.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/dist.hpp"
#include "tapegrad/tapegrad.hpp"

namespace tg = tapegrad;
namespace dist = tapegrad::dist;

namespace {

using Clock = std::chrono::steady_clock;
double now() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
// The fastest repetition: on a machine shared with other work, delays only add, so the minimum
// is the closest to what an idle machine does.
double fastest(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }

struct Args {
  std::string mode;
  std::size_t batch = 128;
  int steps = 200;
  int threads = 1;
  std::size_t elements = 0;
};

Args parse(int argc, char** argv) {
  Args a;
  if (argc > 1) a.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--batch") a.batch = std::size_t(std::atol(v));
    else if (k == "--steps") a.steps = std::atoi(v);
    else if (k == "--threads") a.threads = std::atoi(v);
    else if (k == "--elements") a.elements = std::size_t(std::atol(v));
    else {
      std::fprintf(stderr, "bench_dist: unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

// A module holding one parameter of n elements: gradient averaging of any size.
class Flat : public tg::nn::Module<float> {
 public:
  explicit Flat(std::size_t n) { register_parameter("flat", tg::Array<float>(xt::zeros<float>({n}))); }
  tg::Var<float> forward(const tg::Var<float>& x) { return x; }
  tg::Parameter<float>& p() { return param_at(0); }
};

// Gives every parameter a gradient (zeros) without a tape: mutable_grad() materialises it.
void touch_grads(tg::nn::Module<float>& m) {
  for (auto& p : m.parameters()) p.mutable_grad();
}

struct MlpWork {
  tg::Rng rng{1};
  tg::nn::MLP<float> model{{784, 256, 128, 10}, rng};
  tg::optim::Adam<float> opt{model.parameters(), tg::optim::AdamOptions(1e-3)};
  tg::Tape<float> tape;
  tg::Array<float> x, labels;
  explicit MlpWork(std::size_t batch) {
    x = rng.normal<float>({batch, std::size_t(784)});
    labels = xt::zeros<float>({batch});
    for (std::size_t i = 0; i < batch; ++i) labels(i) = float(i % 10);
  }
  void forward_backward() {
    auto loss = tg::softmax_cross_entropy(model.forward(tape.constant(x)), labels);
    tape.backward(loss);
  }
};

void mode_step(const dist::Environment& env, const Args& a) {
  const std::size_t w = std::size_t(env.world_size());
  const std::size_t b = a.batch / w;
  MlpWork work(b);
  dist::GradientReducer<float> reducer(env, work.model);
  std::vector<double> fb, ar, opt, step;
  for (int s = 0; s < a.steps + 20; ++s) {
    const double t0 = now();
    work.opt.zero_grad();
    work.forward_backward();
    const double t1 = now();
    reducer.average(b);
    const double t2 = now();
    work.opt.step();
    const double t3 = now();
    if (s >= 20) {
      fb.push_back(t1 - t0), ar.push_back(t2 - t1), opt.push_back(t3 - t2), step.push_back(t3 - t0);
    }
  }
  // All-reduce alone, back to back (ranks in step): the transport's cost without waiting for a
  // slower rank's compute.
  std::vector<double> alone;
  touch_grads(work.model);
  env.barrier();
  for (int s = 0; s < a.steps + 20; ++s) {
    const double t0 = now();
    reducer.average(b);
    if (s >= 20) alone.push_back(now() - t0);
  }
  double mine[5] = {median(fb), median(ar), median(opt), median(step), median(alone)};
  const double best[5] = {fastest(fb), fastest(ar), fastest(opt), fastest(step), fastest(alone)};
  std::vector<double> worst(5);
  MPI_Reduce(mine, worst.data(), 5, MPI_DOUBLE, MPI_MAX, 0, env.comm());
  if (env.is_root()) {
    std::printf("step: MLP [784, 256, 128, 10], Adam, global batch %zu = %zu ranks x %zu, %d thread(s) per rank, "
                "%zu floats of gradient in %zu bucket(s)\n",
                a.batch, w, b, tg::num_threads(), reducer.num_elements(), reducer.num_buckets());
    std::printf("  per step, ms: median on rank 0 / median on the slowest rank / fastest on rank 0\n");
    const char* names[5] = {"forward+backward", "gradient averaging", "Adam step", "whole step",
                            "averaging alone, back to back"};
    for (int i = 0; i < 5; ++i) {
      std::printf("    %-30s %8.3f / %8.3f / %8.3f\n", names[i], mine[i] * 1e3, worst[i] * 1e3, best[i] * 1e3);
    }
    // The share from the phases' medians (their sum, not the whole step's median, which a
    // descheduled rank inflates), and from the fastest repetitions.
    const double sum = mine[0] + mine[1] + mine[2], best_sum = best[0] + best[1] + best[2];
    std::printf("  communication share of the step: %.1f%% (medians: averaging / (forward+backward + averaging + "
                "Adam)), %.1f%% (fastest repetitions)\n",
                100 * mine[1] / sum, 100 * best[1] / best_sum);
  }
}

void mode_buckets(const dist::Environment& env, const Args& a) {
  const std::size_t n = a.elements ? a.elements : 235146;
  Flat m(n);
  touch_grads(m);
  if (env.is_root()) {
    std::printf("buckets: averaging %zu floats (%.2f MB) over %d ranks, median of %d\n", n, double(n) * 4 / 1e6,
                env.world_size(), a.steps);
  }
  for (std::size_t kib : {16, 64, 256, 1024, 4096, 0}) {
    dist::GradientReducer<float> reducer(env, m, dist::ReducerOptions().bucket_bytes(kib * 1024));
    std::vector<double> t;
    env.barrier();
    for (int s = 0; s < a.steps + 10; ++s) {
      const double t0 = now();
      reducer.average(1);
      if (s >= 10) t.push_back(now() - t0);
    }
    double mine[2] = {median(t), fastest(t)}, worst[2] = {0, 0};
    MPI_Reduce(mine, worst, 2, MPI_DOUBLE, MPI_MAX, 0, env.comm());
    if (env.is_root()) {
      std::printf("  bucket %8s  %3zu bucket(s)  median %8.3f ms  fastest %8.3f ms\n",
                  kib ? (std::to_string(kib) + " KiB").c_str() : "all", reducer.num_buckets(), worst[0] * 1e3,
                  worst[1] * 1e3);
    }
  }
}

void mode_sizes(const dist::Environment& env, const Args& a) {
  if (env.is_root()) std::printf("sizes: MPI_Allreduce (float sum, in place) over %d ranks, median\n", env.world_size());
  for (std::size_t bytes = 4; bytes <= (std::size_t(16) << 20); bytes *= 4) {
    std::vector<float> buf(bytes / 4, 1.f);
    std::vector<double> t;
    const int reps = bytes > (1 << 20) ? std::max(20, a.steps / 10) : a.steps;
    env.barrier();
    for (int s = 0; s < reps + 5; ++s) {
      const double t0 = now();
      MPI_Allreduce(MPI_IN_PLACE, buf.data(), int(buf.size()), MPI_FLOAT, MPI_SUM, env.comm());
      if (s >= 5) t.push_back(now() - t0);
    }
    double mine[2] = {median(t), fastest(t)}, worst[2] = {0, 0};
    MPI_Reduce(mine, worst, 2, MPI_DOUBLE, MPI_MAX, 0, env.comm());
    if (env.is_root()) {
      std::printf("  %9zu B  %9.1f us  (fastest %9.1f us)  %7.2f GB/s algorithm bandwidth\n", bytes, worst[0] * 1e6,
                  worst[1] * 1e6, double(bytes) / worst[0] / 1e9);
    }
  }
}

// Work of about `target` seconds: single-thread SGEMMs of the MLP's first layer.
struct Compute {
  tg::Array<float> a, b, c;
  int reps = 1;
  Compute() {
    tg::Rng rng(2);
    a = rng.normal<float>({std::size_t(64), std::size_t(784)});
    b = rng.normal<float>({std::size_t(784), std::size_t(256)});
    c = xt::zeros<float>({std::size_t(64), std::size_t(256)});
  }
  void once() { tg::kernels::gemm(false, false, 1.f, a, b, 0.f, c); }
  void calibrate(double target) {
    const double t0 = now();
    for (int i = 0; i < 50; ++i) once();
    const double each = (now() - t0) / 50;
    reps = std::max(1, int(target / each));
  }
};

void mode_overlap(const dist::Environment& env, const Args& a) {
  const std::size_t n = a.elements ? a.elements : 235146;
  std::vector<float> buf(n, 1.f);
  auto allreduce = [&] { MPI_Allreduce(MPI_IN_PLACE, buf.data(), int(n), MPI_FLOAT, MPI_SUM, env.comm()); };
  // The all-reduce's own time, then work of the same length.
  std::vector<double> t_ar;
  for (int s = 0; s < 60; ++s) {
    env.barrier();
    const double t0 = now();
    allreduce();
    if (s >= 10) t_ar.push_back(now() - t0);
  }
  double ar = median(t_ar);
  MPI_Bcast(&ar, 1, MPI_DOUBLE, 0, env.comm());
  Compute work;
  work.calibrate(ar);
  const int slices = 16;
  auto run = [&](int how) {  // 0 compute, 1 allreduce, 2 both in turn, 3 Iallreduce+compute, 4 ...+Test
    std::vector<double> t;
    for (int s = 0; s < 60; ++s) {
      env.barrier();
      const double t0 = now();
      if (how == 0) {
        for (int i = 0; i < work.reps; ++i) work.once();
      } else if (how == 1) {
        allreduce();
      } else if (how == 2) {
        for (int i = 0; i < work.reps; ++i) work.once();
        allreduce();
      } else {
        MPI_Request req;
        MPI_Iallreduce(MPI_IN_PLACE, buf.data(), int(n), MPI_FLOAT, MPI_SUM, env.comm(), &req);
        int done = 0;
        for (int i = 0; i < work.reps; ++i) {
          work.once();
          if (how == 4 && (i % std::max(1, work.reps / slices)) == 0 && !done) MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        }
        MPI_Wait(&req, MPI_STATUS_IGNORE);
      }
      if (s >= 10) t.push_back(now() - t0);
    }
    double mine[2] = {median(t), fastest(t)}, worst[2] = {0, 0};
    MPI_Reduce(mine, worst, 2, MPI_DOUBLE, MPI_MAX, 0, env.comm());
    return std::pair<double, double>(worst[0], worst[1]);
  };
  const auto c = run(0), r = run(1), both = run(2), nb = run(3), nb_test = run(4);
  if (env.is_root()) {
    std::printf("overlap: %zu floats over %d ranks, %d thread(s) per rank, compute = %d SGEMMs 64x784x256; "
                "median (fastest), ms\n",
                n, env.world_size(), tg::num_threads(), work.reps);
    auto line = [&](const char* what, std::pair<double, double> t) {
      std::printf("  %-44s %7.3f (%7.3f)", what, t.first * 1e3, t.second * 1e3);
      if (&t != &c) {
        std::printf("  vs sequential: %+6.1f%% (%+6.1f%%)", 100 * (t.first - both.first) / both.first,
                    100 * (t.second - both.second) / both.second);
      }
      std::printf("\n");
    };
    line("compute alone", c);
    line("all-reduce alone (blocking)", r);
    line("compute, then blocking all-reduce", both);
    line("Iallreduce, compute, Wait", nb);
    line("Iallreduce, compute with MPI_Test, Wait", nb_test);
    line("perfect overlap: max(compute, all-reduce)",
         {std::max(c.first, r.first), std::max(c.second, r.second)});
  }
}

void mode_compute(const Args& a) {
  tg::set_num_threads(1);
  std::printf("compute: MLP [784, 256, 128, 10] forward + backward + Adam, one thread, median of %d\n", a.steps);
  for (std::size_t b = 128; b >= 2; b /= 2) {
    MlpWork work(b);
    std::vector<double> t;
    for (int s = 0; s < a.steps + 20; ++s) {
      const double t0 = now();
      work.opt.zero_grad();
      work.forward_backward();
      work.opt.step();
      if (s >= 20) t.push_back(now() - t0);
    }
    std::printf("  batch %4zu  %8.3f ms per step  %8.2f us per example  (fastest %8.3f ms)\n", b, median(t) * 1e3,
                median(t) * 1e6 / double(b), fastest(t) * 1e3);
  }
  // SGEMM throughput at one thread, for FLOP-based estimates (CNN, LSTM).
  struct Shape3 {
    std::size_t m, k, n;
    const char* what;
  };
  for (const Shape3 s : {Shape3{128, 784, 256, "MLP layer 1 forward"}, Shape3{25088, 288, 64, "CNN conv2 as im2col, batch 128"},
                         Shape3{128, 156, 512, "LSTM gates, batch 128"}}) {
    tg::Rng rng(3);
    tg::Array<float> x = rng.normal<float>({s.m, s.k}), w = rng.normal<float>({s.k, s.n});
    tg::Array<float> y = xt::zeros<float>({s.m, s.n});
    std::vector<double> t;
    for (int r = 0; r < 30; ++r) {
      const double t0 = now();
      tg::kernels::gemm(false, false, 1.f, x, w, 0.f, y);
      if (r >= 5) t.push_back(now() - t0);
    }
    std::printf("  SGEMM %6zu x %4zu x %4zu (%s): %6.1f GFLOP/s (fastest %6.1f)\n", s.m, s.k, s.n, s.what,
                2.0 * double(s.m * s.k * s.n) / median(t) / 1e9, 2.0 * double(s.m * s.k * s.n) / fastest(t) / 1e9);
  }
}

void mode_deterministic(const dist::Environment& env, const Args& a) {
  const std::size_t w = std::size_t(env.world_size()), b = a.batch / w;
  for (bool det : {false, true}) {
    MlpWork work(b);
    tg::data::Batch<float> batch;
    batch.features = work.x;
    batch.targets = work.labels;
    batch.count = b;
    dist::DataParallel<float> ddp(env, work.model, dist::DataParallelOptions().deterministic(det));
    std::vector<double> t;
    for (int s = 0; s < a.steps + 10; ++s) {
      const double t0 = now();
      ddp.forward_backward(work.tape, batch, [&](tg::Tape<float>& tape, tg::data::Batch<float>& x) {
        return tg::softmax_cross_entropy(work.model.forward(tape.constant(x.features)), x.targets);
      });
      work.opt.step();
      if (s >= 10) t.push_back(now() - t0);
    }
    double mine[2] = {median(t), fastest(t)}, worst[2] = {0, 0};
    MPI_Reduce(mine, worst, 2, MPI_DOUBLE, MPI_MAX, 0, env.comm());
    if (env.is_root()) {
      std::printf("deterministic=%d: global batch %zu on %zu ranks, %d thread(s): %.3f ms per step (fastest %.3f)\n",
                  int(det), a.batch, w, tg::num_threads(), worst[0] * 1e3, worst[1] * 1e3);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  if (a.mode == "compute") {
    mode_compute(a);
    return 0;
  }
  dist::Environment env(argc, argv);
  tg::set_num_threads(a.threads);
  if (a.mode == "step") mode_step(env, a);
  else if (a.mode == "buckets") mode_buckets(env, a);
  else if (a.mode == "sizes") mode_sizes(env, a);
  else if (a.mode == "overlap") mode_overlap(env, a);
  else if (a.mode == "deterministic") mode_deterministic(env, a);
  else if (env.is_root()) std::fprintf(stderr, "usage: bench_dist step|buckets|sizes|overlap|compute|deterministic [options]\n");
  return 0;
}
