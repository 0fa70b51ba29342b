// libFuzzer target: tapegrad::io's .idx reader on arbitrary bytes (see fuzz_file.hpp, scripts/fuzz).
#include "fuzz_file.hpp"
#include "fuzz_options.hpp"
#include "tapegrad/io/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return fuzz::run(data, size, ".idx", [](const std::string& path) {
    tapegrad::io::read_idx<float>(path, fuzz::load_options());
  });
}
