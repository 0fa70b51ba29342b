// A user-defined op, written with the same public API as the built-in ones (tapegrad::Op and
// tapegrad::Backward), then used in a model: the XOR network with softplus instead of ReLU.
//
//   build/examples/custom_op
#include <cmath>
#include <cstdio>

#include <tapegrad/tapegrad.hpp>

#include "softplus.hpp"

namespace tg = tapegrad;

// A small model with the custom op as its hidden activation.
class SoftplusNet : public tg::nn::Module<float> {
 public:
  explicit SoftplusNet(tg::Rng& rng)
      : hidden_(register_module("hidden", std::make_shared<tg::nn::Linear<float>>(tg::nn::LinearOptions(2, 4), rng))),
        out_(register_module("out", std::make_shared<tg::nn::Linear<float>>(tg::nn::LinearOptions(4, 1), rng))) {}

  tg::Var<float> forward(const tg::Var<float>& x) {
    return out_->forward(example::softplus(hidden_->forward(x)));
  }

 private:
  std::shared_ptr<tg::nn::Linear<float>> hidden_, out_;
};

int main() {
  // First, the op's gradient against central differences, as the tests do.
  const auto check = tg::gradcheck([](const std::vector<tg::Var<double>>& v) { return example::softplus(v[0]); },
                                   {tg::Array<double>{{-3.0, -0.5, 0.0, 0.5, 3.0}}});
  std::printf("gradcheck softplus: %s", check.report().c_str());

  const tg::Array<float> X{{0.f, 0.f}, {0.f, 1.f}, {1.f, 0.f}, {1.f, 1.f}};
  const tg::Array<float> y = xt::reshape_view(tg::Array<float>{0.f, 1.f, 1.f, 0.f}, {4, 1});
  tg::Rng rng(0);
  SoftplusNet model(rng);
  tg::optim::SGD<float> optimizer(model.parameters(), 0.5);
  tg::Tape<float> tape;
  for (int epoch = 0; epoch <= 3000; ++epoch) {
    auto loss = tg::bce_with_logits(model.forward(tape.constant(X)), tape.constant(y));
    if (epoch % 500 == 0) std::printf("Epoch %d, Loss: %.4f\n", epoch, loss.item());
    optimizer.zero_grad();
    tape.backward(loss);
    optimizer.step();
  }
  std::printf("model checksum: %s\n", tg::io::checksum_hex(tg::io::checksum(model)).c_str());
  return check.ok ? 0 : 1;
}
