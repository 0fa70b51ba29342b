// libFuzzer target: tapegrad::io's .npy reader on arbitrary bytes (see fuzz_file.hpp, scripts/fuzz).
#include "fuzz_file.hpp"
#include "fuzz_options.hpp"
#include "tapegrad/io/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return fuzz::run(data, size, ".npy", [](const std::string& path) {
    tapegrad::io::read_npy<float>(path, fuzz::load_options());
    tapegrad::io::read_npy<double>(path, fuzz::load_options());
  });
}
