#pragma once
/// Layer 6: files. Every writer of the library goes through AtomicFile, so that a crash, a full
/// disk or an exception half-way through never leaves a half-written file behind: the data goes
/// to a temporary file in the destination's directory, which is flushed to disk (fsync) and then
/// renamed over the destination in one step.
///
///     tapegrad::io::AtomicFile out("curves.csv");
///     out.write("epoch,loss\n");
///     out.commit();   // until here, an existing curves.csv is untouched
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tapegrad::io {

/// The default of LoadOptions::max_bytes: 2 GiB. Ten times Fashion-MNIST's training images as
/// float (188 MB), and small enough that a hostile file cannot exhaust the memory of an
/// ordinary machine: a 1 MB compressed file can expand to 1 GB, or to 8 GB read as double.
inline constexpr std::uint64_t kDefaultMaxLoadBytes = std::uint64_t(1) << 31;

/// Options of the array loaders: read_npy, read_npz, read_idx, data::load_mnist and
/// checkpoints' load.
///
///     auto x = tapegrad::io::read_npy<float>("big.npy", tapegrad::io::LoadOptions().max_bytes(std::uint64_t(8) << 30));
struct LoadOptions {
  /// The most memory, in bytes, the arrays a load returns may take (default 2 GiB): element
  /// count × sizeof(T), after decompression and after widening (a u1 pixel read as double
  /// takes 8 bytes), summed over the entries of a .npz. A Fortran-ordered .npy array counts
  /// twice (it is transposed through a copy). A file that needs more is an IoError naming the
  /// file, before anything is allocated for it.
  LoadOptions& max_bytes(std::uint64_t n) {
    max_bytes_ = n;
    return *this;
  }
  std::uint64_t max_bytes_ = kDefaultMaxLoadBytes;
};

/// A file written atomically: `commit()` makes it appear at its path, complete; destroying it
/// without `commit()` (an exception, an early return) deletes the temporary file and leaves
/// the destination as it was. Throws IoError naming the file for any failure.
class AtomicFile {
 public:
  /// Creates the temporary file `<path>.tmp.<pid>.<n>` next to `path`.
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// Appends `size` bytes (buffered).
  void write(const void* data, std::size_t size);
  void write(std::string_view text) { write(text.data(), text.size()); }
  /// Flushes, fsyncs, renames the temporary file to the destination and fsyncs the directory.
  void commit();

  const std::string& path() const noexcept { return path_; }
  /// The temporary file's path (empty after commit).
  const std::string& temp_path() const noexcept { return temp_; }

 private:
  void flush();
  void discard() noexcept;

  std::string path_;
  std::string temp_;
  int fd_ = -1;
  std::string buffer_;
};

/// The whole content of a regular file. Throws IoError naming the file if it is missing,
/// unreadable or not a regular file, or larger than `max_bytes`.
std::string read_file(const std::string& path, std::size_t max_bytes = std::size_t(1) << 32);

}  // namespace tapegrad::io
