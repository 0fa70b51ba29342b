// Fashion-MNIST with a small Vision Transformer: each image is cut into 16 patches of 7 x 7, a
// Linear(49, 64) embeds each patch, a learned position embedding (16, 64) is added, two
// TransformerEncoderLayers (d_model 64, 4 heads, dim_feedforward 128, dropout 0, ReLU, post-norm)
// follow, the tokens are averaged and a Linear(64, 10) classifies. Adam (lr 1e-3), batch 128,
// softmax cross-entropy, pixels in [0, 1] (the recipe; its libtorch twin is
// benchmarks/fashion_mnist_libtorch.cpp --model vit, and benchmarks/fashion_epochs.sh times the
// two side by side).
//
//     build/examples/fashion_mnist_vit --epochs 1
//     build/examples/fashion_mnist_vit --epochs 1 --train-limit 5000 --threads 1 --out-dir /tmp/vit
#include <cmath>
#include <memory>

#include "fashion_training.hpp"
#include "tapegrad/tapegrad.hpp"

namespace tg = tapegrad;

namespace {

constexpr std::size_t kPatch = 7, kPatches = 16, kPatchSize = kPatch * kPatch, kModel = 64;

// PyTorch's Linear init, U(-1/sqrt(in), 1/sqrt(in)), as the libtorch twin has.
std::shared_ptr<tg::nn::Linear<float>> torch_linear(std::size_t in, std::size_t out, tg::Rng& rng) {
  auto l = std::make_shared<tg::nn::Linear<float>>(tg::nn::LinearOptions(in, out), rng);
  const float k = 1 / std::sqrt(float(in));
  l->weight().mutable_value() = rng.uniform<float>({in, out}, -k, k);
  l->bias().mutable_value() = rng.uniform<float>({std::size_t(1), out}, -k, k);
  return l;
}

struct VisionTransformer : tg::nn::Module<float> {
  explicit VisionTransformer(tg::Rng& rng)
      : patch_embed(register_module("patch_embed", torch_linear(kPatchSize, kModel, rng))),
        pos_embed(register_module("pos_embed", std::make_shared<tg::nn::PositionalEmbedding<float>>(kPatches, kModel, rng))),
        encoder(register_module(
            "encoder", std::make_shared<tg::nn::TransformerEncoder<float>>(
                           tg::nn::TransformerEncoderLayerOptions(kModel, 4).dim_feedforward(128).dropout(0).batch_first(true),
                           2, rng))),
        head(register_module("head", torch_linear(kModel, 10, rng))) {}
  // patches (B, 16, 49)
  tg::Var<float> forward(const tg::Var<float>& patches) {
    auto tokens = pos_embed->forward(patch_embed->forward(patches));  // (B, 16, 64)
    return head->forward(tg::mean(encoder->forward(tokens), 1));     // mean over tokens
  }
  std::shared_ptr<tg::nn::Linear<float>> patch_embed;
  std::shared_ptr<tg::nn::PositionalEmbedding<float>> pos_embed;
  std::shared_ptr<tg::nn::TransformerEncoder<float>> encoder;
  std::shared_ptr<tg::nn::Linear<float>> head;
};

// Images (B, 784) into patches (B, 16, 49): patch (pr, pc) holds rows 7pr..7pr+6, columns
// 7pc..7pc+6, row by row. A constant, so a plain rearrangement into a buffer kept across batches.
struct Patchify {
  tg::Array<float> patches;
  tg::Array<float>& operator()(const tg::Array<float>& images) {
    const std::size_t B = images.shape()[0];
    const tg::Shape shape{B, kPatches, kPatchSize};
    if (patches.shape() != shape) patches.resize(shape);
    for (std::size_t b = 0; b < B; ++b) {
      const float* img = images.data() + b * 784;
      float* out = patches.data() + b * kPatches * kPatchSize;
      for (std::size_t p = 0; p < kPatches; ++p) {
        const std::size_t r0 = (p / 4) * kPatch, c0 = (p % 4) * kPatch;
        for (std::size_t r = 0; r < kPatch; ++r) {
          std::copy_n(img + (r0 + r) * 28 + c0, kPatch, out + p * kPatchSize + r * kPatch);
        }
      }
    }
    return patches;
  }
};

}  // namespace

int main(int argc, char** argv) {
  examples::FashionConfig cfg;
  CLI::App app{"Train a small Vision Transformer on Fashion-MNIST with tapegrad"};
  examples::add_options(app, cfg);
  CLI11_PARSE(app, argc, argv);
  std::unique_ptr<examples::Distributed> dist;
  try {
    dist = std::make_unique<examples::Distributed>(cfg.dist, argc, argv);
    tg::Rng rng(cfg.seed);
    VisionTransformer model(rng);
    Patchify patchify;
    return examples::train_fashion("fashion_mnist_vit", model, cfg, *dist, patchify);
  } catch (const tg::Error& e) {
    // Distributed, this ends every process: the others may be waiting for this one.
    if (dist) return dist->fail("fashion_mnist_vit", e.what());
    std::cerr << "fashion_mnist_vit: " << e.what() << "\n";
    return 1;
  }
}
