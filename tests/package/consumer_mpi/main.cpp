// A user's data-parallel program: trains the XOR MLP on two MPI processes, each with its half of
// the four examples, through <tapegrad/dist.hpp> only. Exits non-zero unless the loss falls and
// every rank ends with the same weights.
#include <tapegrad/dist.hpp>
#include <tapegrad/tapegrad.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  using namespace tapegrad;
  dist::Environment env(argc, argv);
  try {
    Array<float> x = {{0.f, 0.f}, {0.f, 1.f}, {1.f, 0.f}, {1.f, 1.f}};
    Array<float> y = {0.f, 1.f, 1.f, 0.f};
    y.reshape({4, 1});
    data::TensorDataset<float> xor_data(x, y);
    const auto w = std::size_t(env.world_size());
    data::DataLoader<float> loader(
        xor_data, data::DataLoaderOptions(4 / w).sampler(data::DistributedSampler(4, std::size_t(env.rank()), w)));

    Rng rng(42);
    nn::MLP<float> model({2, 4, 1}, rng);
    optim::SGD<float> opt(model.parameters(), optim::SGDOptions(0.5));
    dist::DataParallel<float> ddp(env, model);
    Tape<float> tape;
    double first = 0, last = 0;
    for (int epoch = 0; epoch < 500; ++epoch) {
      for (auto& batch : loader) {
        const auto stats = ddp.forward_backward(tape, batch, [&](Tape<float>& t, data::Batch<float>& b) {
          return bce_with_logits(model.forward(t.constant(b.features)), t.constant(b.targets));
        });
        opt.step();
        last = dist::all_reduce_sum(env, stats.loss_sum) / double(stats.global_examples);
        if (epoch == 0) first = last;
      }
    }
    const auto checksum = dist::check_same_parameters(env, model);
    if (env.is_root()) {
      std::printf("tapegrad %s on %d processes: XOR loss %.4f -> %.4f, model checksum %s\n", version(),
                  env.world_size(), first, last, io::checksum_hex(checksum).c_str());
    }
    return last < 0.5 * first ? 0 : 1;
  } catch (const std::exception& e) {
    env.abort(e.what());
  }
}
