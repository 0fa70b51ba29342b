// A character-level language model on a real text: Ambrose Bierce's "The Devil's Dictionary"
// (1911, public domain), as Debian's dict-devil package ships it (/usr/share/dictd/devil.dict.dz,
// a gzip-compatible dictzip file, 384 KB of text). The first 90% of the text trains, the last
// 10% validates.
//
//   --model lstm         Embedding(V, 64) -> LSTM(64, 256, batch_first) -> Linear(256, V)
//   --model transformer  Embedding(V, 128) + learned positions -> 2 pre-norm TransformerEncoder
//                        layers (4 heads, dim_feedforward 512, dropout 0.1) with causal attention
//                        -> LayerNorm -> Linear(128, V): a small decoder-only Transformer
//
// Trains on random windows of --block-size characters (AdamW, lr 2e-3, batch 32), predicting
// each next character; prints the training loss and the validation loss in nats per character
// every --eval-every steps, and at the end a sample generated from --generate "PROMPT" with
// --temperature and --top-k.
//
//     build/examples/char_lm --model lstm --steps 2000 --generate "LOVE, n."
//     build/examples/char_lm --model transformer --steps 2000 --generate "LAWYER, n."
#include <zlib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "progress.hpp"
#include "tapegrad/shape_ops.hpp"
#include "tapegrad/tapegrad.hpp"

namespace tg = tapegrad;

namespace {

struct Config {
  std::string model = "lstm";
  std::string text = "/usr/share/dictd/devil.dict.dz";
  int steps = 2000;
  int eval_every = 200;
  std::size_t batch_size = 32;
  std::size_t block_size = 64;
  double lr = 2e-3;
  std::uint64_t seed = 42;
  int threads = 0;
  std::string generate = "LOVE, n.";
  double temperature = 0.8;
  std::size_t top_k = 10;
  std::size_t length = 300;
  std::string out_dir;
  double max_val_loss = 0;
  bool verbose = false;
};

std::string read_text(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");  // reads plain files too
  if (f == nullptr) throw tg::IoError(path + ": cannot open (install Debian's dict-devil, or pass --text)");
  std::string out;
  std::array<char, 1 << 16> buf;
  int n;
  while ((n = gzread(f, buf.data(), unsigned(buf.size()))) > 0) out.append(buf.data(), std::size_t(n));
  const bool failed = n < 0;
  gzclose(f);
  if (failed || out.empty()) throw tg::IoError(path + ": cannot read");
  return out;
}

// The characters of the text, each a class.
struct Vocabulary {
  explicit Vocabulary(const std::string& text) {
    std::array<bool, 256> seen{};
    for (unsigned char c : text) seen[c] = true;
    index.fill(-1);
    for (int c = 0; c < 256; ++c) {
      if (!seen[std::size_t(c)]) continue;
      index[std::size_t(c)] = int(chars.size());
      chars.push_back(char(c));
    }
  }
  std::size_t size() const { return chars.size(); }
  std::array<int, 256> index;
  std::string chars;
};

// PyTorch's Linear init, U(-1/sqrt(in), 1/sqrt(in)).
std::shared_ptr<tg::nn::Linear<float>> torch_linear(std::size_t in, std::size_t out, tg::Rng& rng) {
  auto l = std::make_shared<tg::nn::Linear<float>>(tg::nn::LinearOptions(in, out), rng);
  const float k = 1 / std::sqrt(float(in));
  l->weight().mutable_value() = rng.uniform<float>({in, out}, -k, k);
  l->bias().mutable_value() = rng.uniform<float>({std::size_t(1), out}, -k, k);
  return l;
}

// Both models map ids (B, T) to next-character logits (B, T, V).
struct LstmLm : tg::nn::Module<float> {
  LstmLm(std::size_t vocab, tg::Rng& rng)
      : embed(register_module("embed", std::make_shared<tg::nn::Embedding<float>>(tg::nn::EmbeddingOptions(vocab, 64), rng))),
        lstm(register_module("lstm", std::make_shared<tg::nn::LSTM<float>>(tg::nn::LSTMOptions(64, 256).batch_first(true), rng))),
        head(register_module("head", torch_linear(256, vocab, rng))) {}
  tg::Var<float> forward(const tg::Var<float>& ids) { return head->forward(lstm->forward(embed->forward(ids)).output); }
  std::shared_ptr<tg::nn::Embedding<float>> embed;
  std::shared_ptr<tg::nn::LSTM<float>> lstm;
  std::shared_ptr<tg::nn::Linear<float>> head;
};

struct TransformerLm : tg::nn::Module<float> {
  TransformerLm(std::size_t vocab, std::size_t block, tg::Rng& rng)
      : embed(register_module("embed", std::make_shared<tg::nn::Embedding<float>>(tg::nn::EmbeddingOptions(vocab, 128), rng))),
        pos(register_module("pos", std::make_shared<tg::nn::PositionalEmbedding<float>>(block, 128, rng))),
        decoder(register_module("decoder", std::make_shared<tg::nn::TransformerEncoder<float>>(
                                               tg::nn::TransformerEncoderLayerOptions(128, 4)
                                                   .dim_feedforward(512)
                                                   .dropout(0.1)
                                                   .norm_first(true)
                                                   .batch_first(true),
                                               2, rng, /*final_norm=*/true))),
        head(register_module("head", torch_linear(128, vocab, rng))) {}
  tg::Var<float> forward(const tg::Var<float>& ids) {
    // Causal: position t attends to positions <= t only.
    return head->forward(decoder->forward(pos->forward(embed->forward(ids)), {}, {}, /*is_causal=*/true));
  }
  std::shared_ptr<tg::nn::Embedding<float>> embed;
  std::shared_ptr<tg::nn::PositionalEmbedding<float>> pos;
  std::shared_ptr<tg::nn::TransformerEncoder<float>> decoder;
  std::shared_ptr<tg::nn::Linear<float>> head;
};

// Windows of block + 1 characters starting at `starts`: inputs (B, T) and next-character targets.
void make_batch(const std::vector<int>& ids, const std::vector<std::size_t>& starts, std::size_t block,
                tg::Array<float>& x, std::vector<std::int64_t>& y) {
  const std::size_t B = starts.size();
  if (x.shape() != tg::Shape{B, block}) x.resize({B, block});
  y.resize(B * block);
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t t = 0; t < block; ++t) {
      x(b, t) = float(ids[starts[b] + t]);
      y[b * block + t] = ids[starts[b] + t + 1];
    }
  }
}

template <class Model>
int run(Model& model, const Config& cfg, const Vocabulary& vocab, const std::vector<int>& train,
        const std::vector<int>& val, tg::Rng& rng) {
  using clock = std::chrono::steady_clock;
  const std::size_t V = vocab.size(), T = cfg.block_size, B = cfg.batch_size;
  tg::optim::AdamW<float> opt(model.parameters(), tg::optim::AdamWOptions(cfg.lr).weight_decay(0.01));
  tg::Tape<float> tape;
  tg::Array<float> x;
  std::vector<std::int64_t> y;
  std::vector<std::size_t> starts(B);
  const std::vector<std::int64_t> flat{std::int64_t(B * T), std::int64_t(V)};

  // Validation: consecutive windows over the whole held-out text, in batches.
  const auto validate = [&] {
    tg::NoGradGuard no_grad;
    model.eval();
    double total = 0;
    std::size_t count = 0;
    std::vector<std::size_t> vs;
    for (std::size_t s = 0; s + T + 1 <= val.size(); s += T) vs.push_back(s);
    for (std::size_t i = 0; i < vs.size(); i += B) {
      const std::vector<std::size_t> chunk(vs.begin() + long(i), vs.begin() + long(std::min(vs.size(), i + B)));
      make_batch(val, chunk, T, x, y);
      const auto logits = model.forward(tape.constant(x));
      const auto loss = tg::cross_entropy(tg::reshape(logits, {std::int64_t(chunk.size() * T), std::int64_t(V)}), y);
      total += double(loss.item()) * double(chunk.size() * T);
      count += chunk.size() * T;
      tape.clear();
    }
    model.train();
    return total / double(count);
  };

  const auto start = clock::now();
  examples::ProgressBar bar(std::size_t(cfg.eval_every));
  double loss_sum = 0, val_loss = 0;
  int seen = 0;
  for (int step = 1; step <= cfg.steps; ++step) {
    for (auto& s : starts) s = rng.below(train.size() - T - 1);
    make_batch(train, starts, T, x, y);
    opt.zero_grad();
    const auto logits = model.forward(tape.constant(x));
    const auto loss = tg::cross_entropy(tg::reshape(logits, flat), y);
    loss_sum += double(loss.item());
    ++seen;
    tape.backward(loss);
    opt.step();
    bar.update(std::size_t((step - 1) % cfg.eval_every + 1), loss_sum / seen, std::size_t(seen) * B * T,
               "step " + std::to_string(step));
    if (step % cfg.eval_every == 0 || step == cfg.steps) {
      bar.clear();
      val_loss = validate();
      std::printf("step %d/%d train_loss=%.4f val_loss=%.4f nats/char time=%.1fs\n", step, cfg.steps, loss_sum / seen,
                  val_loss, std::chrono::duration<double>(clock::now() - start).count());
      std::fflush(stdout);
      loss_sum = 0;
      seen = 0;
      bar.restart();
    }
  }
  std::printf("validation loss: %.4f nats per character (%.3f bits)\n", val_loss, val_loss / std::log(2.0));

  // Generation: the last block_size characters in, the next one drawn from the top-k logits at
  // the temperature.
  {
    tg::NoGradGuard no_grad;
    model.eval();
    std::vector<int> context;
    for (unsigned char c : cfg.generate) context.push_back(vocab.index[c] >= 0 ? vocab.index[c] : 0);
    if (context.empty()) context.push_back(vocab.index['\n'] >= 0 ? vocab.index['\n'] : 0);
    std::string sample = cfg.generate;
    for (std::size_t i = 0; i < cfg.length; ++i) {
      const std::size_t n = std::min(context.size(), T);
      tg::Array<float> in = tg::Array<float>::from_shape({1, n});
      for (std::size_t t = 0; t < n; ++t) in(0, t) = float(context[context.size() - n + t]);
      const auto logits = model.forward(tape.constant(in));
      const float* last = logits.value().data() + (n - 1) * V;
      std::vector<std::pair<float, int>> top;
      for (std::size_t c = 0; c < V; ++c) top.push_back({last[c], int(c)});
      const std::size_t k = std::max<std::size_t>(1, std::min(cfg.top_k, V));
      std::partial_sort(top.begin(), top.begin() + long(k), top.end(), std::greater<>());
      std::vector<double> p(k);
      double sum = 0;
      for (std::size_t j = 0; j < k; ++j) sum += p[j] = std::exp((top[j].first - top[0].first) / cfg.temperature);
      double u = rng.uniform01() * sum;
      std::size_t pick = 0;
      while (pick + 1 < k && (u -= p[pick]) > 0) ++pick;
      context.push_back(top[pick].second);
      sample += vocab.chars[std::size_t(top[pick].second)];
      tape.clear();
    }
    std::printf("sample (temperature %.2f, top-k %zu):\n%s\n", cfg.temperature, cfg.top_k, sample.c_str());
  }
  if (!cfg.out_dir.empty()) {
    if (std::system(("mkdir -p '" + cfg.out_dir + "'").c_str()) != 0) return 1;
    tg::save(model, cfg.out_dir + "/char_lm_" + cfg.model + ".npz");
  }
  // A hash of every parameter's name, shape and bytes: two runs compared at a glance.
  std::printf("model checksum: %s\n", tg::io::checksum_hex(tg::io::checksum(model)).c_str());
  if (cfg.max_val_loss > 0 && val_loss > cfg.max_val_loss) {
    std::cerr << "char_lm: validation loss " << val_loss << " is above --max-val-loss " << cfg.max_val_loss << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"A character-level language model (LSTM or causal Transformer) on The Devil's Dictionary"};
  app.add_option("--model", cfg.model, "lstm or transformer")->check(CLI::IsMember({"lstm", "transformer"}));
  app.add_option("--text", cfg.text, "The text to learn (plain or gzip/dictzip)");
  app.add_option("--steps", cfg.steps, "Training steps")->check(CLI::PositiveNumber);
  app.add_option("--eval-every", cfg.eval_every, "Steps between validation losses")->check(CLI::PositiveNumber);
  app.add_option("--batch-size", cfg.batch_size, "Windows per step")->check(CLI::PositiveNumber);
  app.add_option("--block-size", cfg.block_size, "Characters per window")->check(CLI::PositiveNumber);
  app.add_option("--lr", cfg.lr, "AdamW's learning rate")->check(CLI::PositiveNumber);
  app.add_option("--seed", cfg.seed, "Seed of the weights, the windows and the sample");
  app.add_option("--threads", cfg.threads, "Threads to compute on (0: one per core)")->check(CLI::NonNegativeNumber);
  app.add_option("--generate", cfg.generate, "The prompt of the sample printed at the end");
  app.add_option("--temperature", cfg.temperature, "Sampling temperature")->check(CLI::PositiveNumber);
  app.add_option("--top-k", cfg.top_k, "Sample among the k likeliest characters")->check(CLI::PositiveNumber);
  app.add_option("--length", cfg.length, "Characters to generate");
  app.add_option("--out-dir", cfg.out_dir, "Where to write the model (empty: nowhere)");
  app.add_option("--max-val-loss", cfg.max_val_loss, "Exit with status 1 if the final validation loss is higher (ctest)");
  app.add_flag("--verbose", cfg.verbose, "Print what runs the matrix products first");
  CLI11_PARSE(app, argc, argv);
  try {
    if (cfg.threads > 0) tg::set_num_threads(cfg.threads);
    if (cfg.verbose) std::cout << tg::runtime_info() << std::flush;
    const std::string text = read_text(cfg.text);
    const Vocabulary vocab(text);
    std::vector<int> ids;
    for (unsigned char c : text) ids.push_back(vocab.index[c]);
    const std::size_t split = ids.size() * 9 / 10;
    const std::vector<int> train(ids.begin(), ids.begin() + long(split)), val(ids.begin() + long(split), ids.end());
    TG_CHECK(tg::ValueError, train.size() > cfg.block_size + 1 && val.size() > cfg.block_size + 1,
             "char_lm: the text is too short for --block-size ", cfg.block_size);
    std::printf("text: %s, %zu characters, %zu distinct; %zu train, %zu validation\n", cfg.text.c_str(), text.size(),
                vocab.size(), train.size(), val.size());
    tg::Rng rng(cfg.seed);
    if (cfg.model == "lstm") {
      LstmLm model(vocab.size(), rng);
      return run(model, cfg, vocab, train, val, rng);
    }
    TransformerLm model(vocab.size(), cfg.block_size, rng);
    return run(model, cfg, vocab, train, val, rng);
  } catch (const tg::Error& e) {
    std::cerr << "char_lm: " << e.what() << "\n";
    return 1;
  }
}
