// libFuzzer target: tapegrad::io's .csv reader on arbitrary bytes (see fuzz_file.hpp, scripts/fuzz).
#include "fuzz_file.hpp"
#include "fuzz_options.hpp"
#include "tapegrad/io/csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return fuzz::run(data, size, ".csv", [](const std::string& path) {
    tapegrad::io::read_csv<float>(path, fuzz::csv_options());
    tapegrad::io::read_csv<double>(path, fuzz::csv_options());
  });
}
