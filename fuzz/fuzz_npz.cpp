// libFuzzer target: tapegrad::io's .npz reader on arbitrary bytes (see fuzz_file.hpp, scripts/fuzz).
#include "fuzz_file.hpp"
#include "fuzz_options.hpp"
#include "tapegrad/io/npz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return fuzz::run(data, size, ".npz", [](const std::string& path) {
    tapegrad::io::read_npz<float>(path, fuzz::load_options());
  });
}
