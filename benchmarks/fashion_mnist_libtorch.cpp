// examples/fashion_mnist.cpp's training in libtorch's C++ frontend, for timing the two side by
// side (benchmarks/fashion_epochs.sh): MLP [784, 256, 128, 10] of nn::Linear with ReLU, Adam
// lr 1e-3, batch 128, cross_entropy, shuffled every epoch. `--model lstm` and `--model vit`
// train examples/fashion_mnist_lstm's and fashion_mnist_vit's networks instead (issue 18):
// LSTM(28, 128, batch_first) over the rows, the last step's output into Linear(128, 10); and
// 16 patches of 7 x 7 -> Linear(49, 64) + a learned position embedding (16, 64, drawn from
// N(0, 0.02²) as tapegrad's PositionalEmbedding) -> 2 TransformerEncoderLayers (64, 4 heads,
// dim_feedforward 128, dropout 0, relu, post-norm; sequence-first in libtorch 1.13) -> mean over
// tokens -> Linear(64, 10). Pixels are scaled to [0, 1] and the
// rate stays constant (the libtorch setup; fashion_epochs.sh runs tapegrad's example
// with the same recipe), and subnormals are flushed to zero as tapegrad's optimizers do. Prints
// the example's line per epoch; `time` counts the training loop only.
//
// It reads the IDX files itself (zlib), so that it links no tapegrad code: tapegrad sets
// OpenBLAS to one thread when its pool starts, and libtorch's products run on OpenBLAS's pool.
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

// Debian's libtorch runs its products on OpenBLAS's own thread pool, which torch::set_num_threads
// does not reach. False when the loaded BLAS is not OpenBLAS.
bool set_openblas_threads(int n) {
  using Fn = void (*)(int);
  auto f = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (f != nullptr) f(n);
  return f != nullptr;
}

// A positive count from the command line, or an error naming the flag.
int parse_count(const std::string& flag, const char* text) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < 1 || v > 100000) {
    throw std::runtime_error(flag + " needs a positive integer, got '" + text + "'");
  }
  return int(v);
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

// Images (N, 784) as float in [0, 1] and labels (N) as int64, from `<dir>/<prefix>-*-ubyte.gz`.
std::pair<torch::Tensor, torch::Tensor> load(const std::string& dir, const std::string& prefix) {
  const auto images = read_gz(dir + "/" + prefix + "-images-idx3-ubyte.gz");
  const auto labels = read_gz(dir + "/" + prefix + "-labels-idx1-ubyte.gz");
  if (images.size() < 16 || labels.size() < 8 || be32(images.data()) != 0x803 || be32(labels.data()) != 0x801) {
    throw std::runtime_error("not MNIST IDX files: " + dir + "/" + prefix);
  }
  const std::int64_t n = be32(images.data() + 4), pixels = 28 * 28;
  if (be32(images.data() + 8) != 28 || be32(images.data() + 12) != 28) {
    throw std::runtime_error("images are not 28 x 28 in " + dir + "/" + prefix);
  }
  if (std::int64_t(be32(labels.data() + 4)) != n || std::int64_t(images.size()) != 16 + n * pixels ||
      std::int64_t(labels.size()) != 8 + n) {
    throw std::runtime_error("IDX sizes disagree in " + dir + "/" + prefix);
  }
  auto x = torch::from_blob(const_cast<std::uint8_t*>(images.data() + 16), {n, pixels}, torch::kUInt8)
               .to(torch::kFloat32)
               .div_(255);
  auto y = torch::from_blob(const_cast<std::uint8_t*>(labels.data() + 8), {n}, torch::kUInt8).to(torch::kInt64);
  return {x, y};
}

}  // namespace

struct LstmNetImpl : torch::nn::Module {
  LstmNetImpl()
      : lstm(register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(28, 128).batch_first(true)))),
        fc(register_module("fc", torch::nn::Linear(128, 10))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    auto out = std::get<0>(lstm->forward(x.view({-1, 28, 28})));  // rows as steps
    return fc->forward(out.select(1, -1));
  }
  torch::nn::LSTM lstm;
  torch::nn::Linear fc;
};
TORCH_MODULE(LstmNet);

struct VitImpl : torch::nn::Module {
  VitImpl()
      : patch_embed(register_module("patch_embed", torch::nn::Linear(49, 64))),
        pos_embed(register_parameter("pos_embed", torch::randn({16, 64}) * 0.02)),
        encoder(register_module(
            "encoder", torch::nn::TransformerEncoder(torch::nn::TransformerEncoderOptions(
                           torch::nn::TransformerEncoderLayerOptions(64, 4).dim_feedforward(128).dropout(0), 2)))),
        head(register_module("head", torch::nn::Linear(64, 10))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    const auto B = x.size(0);
    // (B, 784) -> (B, 4, 7, 4, 7) -> patches (B, 16, 49), patch (pr, pc) row by row.
    auto patches = x.view({B, 4, 7, 4, 7}).permute({0, 1, 3, 2, 4}).reshape({B, 16, 49});
    auto tokens = patch_embed->forward(patches) + pos_embed;     // (B, 16, 64)
    auto h = encoder->forward(tokens.transpose(0, 1));           // (16, B, 64)
    return head->forward(h.mean(0));
  }
  torch::nn::Linear patch_embed;
  torch::Tensor pos_embed;
  torch::nn::TransformerEncoder encoder;
  torch::nn::Linear head;
};
TORCH_MODULE(Vit);

int run(int epochs, int threads, const std::string& dir, const std::string& model);

int main(int argc, char** argv) {
  int epochs = 10, threads = 2;
  std::string dir = "/usr/share/datasets/fashion-mnist", model = "mlp";
  try {
    for (int i = 1; i < argc; i += 2) {
      const std::string flag = argv[i];
      if (i + 1 >= argc || (flag != "--epochs" && flag != "--threads" && flag != "--data-dir" && flag != "--model")) {
        std::fprintf(stderr, "usage: %s [--epochs n] [--threads n] [--data-dir dir] [--model mlp|lstm|vit]\n", argv[0]);
        return 2;
      }
      if (flag == "--epochs") epochs = parse_count(flag, argv[i + 1]);
      if (flag == "--threads") threads = parse_count(flag, argv[i + 1]);
      if (flag == "--data-dir") dir = argv[i + 1];
      if (flag == "--model") model = argv[i + 1];
    }
    if (model != "mlp" && model != "lstm" && model != "vit") throw std::runtime_error("--model must be mlp, lstm or vit");
    return run(epochs, threads, dir, model);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fashion_mnist_libtorch: %s\n", e.what());
    return 1;
  }
}

template <class Model>
int train(Model& model, int epochs, const torch::Tensor& x_train, const torch::Tensor& y_train,
          const torch::Tensor& x_test, const torch::Tensor& y_test);

int run(int epochs, int threads, const std::string& dir, const std::string& model) {
  // The products, where the time goes, run on OpenBLAS's pool, so `--threads n` (default 2)
  // sizes that one and keeps torch's own (OpenMP) pool at one thread: with both pools at two
  // threads on two cores, an epoch took 3.3 s instead of 1.0 s. Another BLAS (MKL) follows
  // torch's pool, which then gets the n threads.
  if (set_openblas_threads(threads)) {
    torch::set_num_threads(1);
  } else {
    torch::set_num_threads(threads);
    std::fprintf(stderr, "fashion_mnist_libtorch: no OpenBLAS; torch's pool runs %d threads\n", threads);
  }
  at::globalContext().setFlushDenormal(true);
  torch::manual_seed(42);
  const auto [x_train, y_train] = load(dir, "train");
  const auto [x_test, y_test] = load(dir, "t10k");

  if (model == "lstm") {
    LstmNet net;
    return train(net, epochs, x_train, y_train, x_test, y_test);
  }
  if (model == "vit") {
    Vit net;
    return train(net, epochs, x_train, y_train, x_test, y_test);
  }
  torch::nn::Sequential mlp(torch::nn::Linear(784, 256), torch::nn::ReLU(), torch::nn::Linear(256, 128),
                            torch::nn::ReLU(), torch::nn::Linear(128, 10));
  return train(mlp, epochs, x_train, y_train, x_test, y_test);
}

template <class Model>
int train(Model& model, int epochs, const torch::Tensor& x_train, const torch::Tensor& y_train,
          const torch::Tensor& x_test, const torch::Tensor& y_test) {
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3));
  const std::int64_t n = x_train.size(0), batch = 128;
  double test_acc = 0;
  for (int epoch = 1; epoch <= epochs; ++epoch) {
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
      loss_sum += loss.template item<double>() * double(idx.size(0));
      correct += logits.argmax(1).eq(y).sum().template item<double>();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    {
      torch::NoGradGuard no_grad;
      model->eval();
      double correct_test = 0;
      for (std::int64_t b = 0; b < x_test.size(0); b += 1000) {  // in chunks, as tapegrad's examples
        const auto xb = x_test.slice(0, b, std::min(b + 1000, x_test.size(0)));
        correct_test += model->forward(xb).argmax(1).eq(y_test.slice(0, b, b + xb.size(0))).sum().template item<double>();
      }
      test_acc = correct_test / double(x_test.size(0));
      model->train();
    }
    std::printf("epoch %d/%d loss=%.4f train_acc=%.4f test_acc=%.4f time=%.2fs\n", epoch, epochs, loss_sum / double(n),
                correct / double(n), test_acc, seconds);
    std::fflush(stdout);
  }
  std::printf("test accuracy: %.4f\n", test_acc);
  return 0;
}
