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
#include <string>
#include <string_view>

namespace tapegrad::io {

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
