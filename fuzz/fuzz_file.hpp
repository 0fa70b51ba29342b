#pragma once
// Shared by the fuzz targets: the loaders read files, so each input is written to one temporary
// file per process (in /dev/shm when it exists: no disk traffic) and loaded through the public API,
// exactly as a user would. A loader may throw IoError (a bad file, the expected outcome); any other
// exception, crash, sanitizer report, leak or huge allocation is a finding.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tapegrad/error.hpp"

namespace fuzz {

inline const std::string& temp_path(const char* suffix) {
  static const std::string path = [suffix] {
    std::string dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string p = dir + "/tapegrad-fuzz-" + std::to_string(getpid()) + suffix;
    std::atexit([] { unlink(temp_path("").c_str()); });
    return p;
  }();
  return path;
}

// Writes data to the process's temporary file and returns its path.
inline const std::string& write_input(const std::uint8_t* data, std::size_t size, const char* suffix) {
  const std::string& path = temp_path(suffix);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) std::abort();
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = write(fd, data + done, size - done);
    if (n <= 0) std::abort();
    done += std::size_t(n);
  }
  close(fd);
  return path;
}

// Runs load(path); IoError is the expected outcome for a bad file.
template <class F>
int run(const std::uint8_t* data, std::size_t size, const char* suffix, F&& load) {
  const std::string& path = write_input(data, size, suffix);
  try {
    load(path);
  } catch (const tapegrad::IoError&) {
  }
  return 0;
}

}  // namespace fuzz
