// examples/fashion_mnist_cnn.cpp's training in libtorch's C++ frontend, for timing and scoring the
// two side by side (benchmarks/fashion_epochs.sh cnn): conv(1→32, 3×3, padding 1) → ReLU →
// max_pool 2 → conv(32→64, 3×3, padding 1) → ReLU → max_pool 2 → flatten → Linear(3136→128) →
// ReLU → Linear(128→10); Adam lr 1e-3, batch 128, cross_entropy, pixels in [0, 1], shuffled every
// epoch, subnormals flushed to zero. Prints the example's line per epoch; `time` counts the
// training loop only. `--verbose` says whether convolutions run on oneDNN (mkldnn).
//
// Threads: libtorch runs convolutions and pooling on its own OpenMP pool (torch::set_num_threads)
// and the Linear layers' products on OpenBLAS's pool. `--threads n` sizes both (default 1);
// `--blas-threads m` sizes OpenBLAS's alone.
//
// It reads the IDX files itself (zlib), so that it links no tapegrad code.
#include <dlfcn.h>
#include <torch/torch.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

bool set_openblas_threads(int n) {
  using Fn = void (*)(int);
  auto f = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (f != nullptr) f(n);
  return f != nullptr;
}

long parse_count(const std::string& flag, const char* text, long least) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < least || v > 100000000) {
    throw std::runtime_error(flag + " needs an integer >= " + std::to_string(least) + ", got '" + text + "'");
  }
  return v;
}

std::vector<std::uint8_t> read_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error("cannot open " + path);
  std::vector<std::uint8_t> out;
  std::uint8_t buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  const bool failed = n < 0;
  gzclose(f);
  if (failed) throw std::runtime_error("cannot read " + path);
  return out;
}

std::uint32_t be32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
}

// Images (N, 1, 28, 28) as float in [0, 1] and labels (N) as int64, from `<dir>/<prefix>-*-ubyte.gz`.
std::pair<torch::Tensor, torch::Tensor> load(const std::string& dir, const std::string& prefix, std::int64_t limit) {
  const auto images = read_gz(dir + "/" + prefix + "-images-idx3-ubyte.gz");
  const auto labels = read_gz(dir + "/" + prefix + "-labels-idx1-ubyte.gz");
  if (images.size() < 16 || labels.size() < 8 || be32(images.data()) != 0x803 || be32(labels.data()) != 0x801) {
    throw std::runtime_error("not MNIST IDX files: " + dir + "/" + prefix);
  }
  std::int64_t n = be32(images.data() + 4);
  const std::int64_t pixels = 28 * 28;
  if (be32(images.data() + 8) != 28 || be32(images.data() + 12) != 28) {
    throw std::runtime_error("images are not 28 x 28 in " + dir + "/" + prefix);
  }
  if (std::int64_t(be32(labels.data() + 4)) != n || std::int64_t(images.size()) != 16 + n * pixels ||
      std::int64_t(labels.size()) != 8 + n) {
    throw std::runtime_error("IDX sizes disagree in " + dir + "/" + prefix);
  }
  if (limit > 0) n = std::min(n, limit);
  auto x = torch::from_blob(const_cast<std::uint8_t*>(images.data() + 16), {n, 1, 28, 28}, torch::kUInt8)
               .to(torch::kFloat32)
               .div_(255);
  auto y = torch::from_blob(const_cast<std::uint8_t*>(labels.data() + 8), {n}, torch::kUInt8).to(torch::kInt64);
  return {x, y};
}

struct Options {
  int epochs = 5, threads = 1, blas_threads = 0;
  std::int64_t train_limit = 0;
  std::uint64_t seed = 42;
  bool verbose = false;
  std::string dir = "/usr/share/datasets/fashion-mnist";
};

int run(const Options& o) {
  torch::set_num_threads(o.threads);
  const bool openblas = set_openblas_threads(o.blas_threads > 0 ? o.blas_threads : o.threads);
  if (o.verbose) {
    std::printf("libtorch %s; mkldnn (oneDNN) %s, enabled %s; OpenBLAS %s; torch threads %d\n", TORCH_VERSION,
                at::hasMKLDNN() ? "built in" : "absent", at::globalContext().userEnabledMkldnn() ? "yes" : "no",
                openblas ? "found" : "absent", torch::get_num_threads());
  }
  at::globalContext().setFlushDenormal(true);
  torch::manual_seed(o.seed);
  const auto [x_train, y_train] = load(o.dir, "train", o.train_limit);
  const auto [x_test, y_test] = load(o.dir, "t10k", 0);

  namespace nn = torch::nn;
  nn::Sequential model(nn::Conv2d(nn::Conv2dOptions(1, 32, 3).padding(1)), nn::ReLU(), nn::MaxPool2d(2),
                       nn::Conv2d(nn::Conv2dOptions(32, 64, 3).padding(1)), nn::ReLU(), nn::MaxPool2d(2),
                       nn::Flatten(), nn::Linear(3136, 128), nn::ReLU(), nn::Linear(128, 10));
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3));
  const std::int64_t n = x_train.size(0), batch = 128;
  double test_acc = 0;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    model->train();
    const auto start = std::chrono::steady_clock::now();
    const auto order = torch::randperm(n, torch::kInt64);
    double loss_sum = 0, correct = 0;
    for (std::int64_t b = 0; b < n; b += batch) {
      const auto idx = order.slice(0, b, std::min(b + batch, n));
      const auto x = x_train.index_select(0, idx), y = y_train.index_select(0, idx);
      opt.zero_grad();
      const auto logits = model->forward(x);
      const auto loss = torch::nn::functional::cross_entropy(logits, y);
      loss.backward();
      opt.step();
      loss_sum += loss.item<double>() * double(idx.size(0));
      correct += logits.argmax(1).eq(y).sum().item<double>();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    {
      torch::NoGradGuard no_grad;
      model->eval();
      double hits = 0;
      for (std::int64_t b = 0; b < x_test.size(0); b += 1000) {
        const auto xb = x_test.slice(0, b, b + 1000), yb = y_test.slice(0, b, b + 1000);
        hits += model->forward(xb).argmax(1).eq(yb).sum().item<double>();
      }
      test_acc = hits / double(x_test.size(0));
    }
    std::printf("epoch %d/%d loss=%.4f train_acc=%.4f test_acc=%.4f time=%.2fs\n", epoch, o.epochs,
                loss_sum / double(n), correct / double(n), test_acc, seconds);
    std::fflush(stdout);
  }
  std::printf("test accuracy: %.4f\n", test_acc);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string flag = argv[i];
      if (flag == "--verbose") {
        o.verbose = true;
        continue;
      }
      if (i + 1 >= argc) throw std::runtime_error("usage: " + std::string(argv[0]) +
                                                  " [--epochs n] [--threads n] [--blas-threads n] [--train-limit n]"
                                                  " [--seed n] [--data-dir dir] [--verbose]");
      const char* v = argv[++i];
      if (flag == "--epochs") {
        o.epochs = int(parse_count(flag, v, 1));
      } else if (flag == "--threads") {
        o.threads = int(parse_count(flag, v, 1));
      } else if (flag == "--blas-threads") {
        o.blas_threads = int(parse_count(flag, v, 1));
      } else if (flag == "--train-limit") {
        o.train_limit = parse_count(flag, v, 0);
      } else if (flag == "--seed") {
        o.seed = std::uint64_t(parse_count(flag, v, 0));
      } else if (flag == "--data-dir") {
        o.dir = v;
      } else {
        throw std::runtime_error("unknown flag " + flag);
      }
    }
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fashion_mnist_cnn_libtorch: %s\n", e.what());
    return 1;
  }
}
