// Atomic writes and whole-file reads. POSIX: open/write/fsync/rename.
#include "tapegrad/io/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "io/internal.hpp"
#include "tapegrad/error.hpp"

namespace tapegrad::io {

namespace {
std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Buffered writes go out in blocks of this size; bigger writes bypass the buffer.
constexpr std::size_t kBufferSize = std::size_t(1) << 16;
}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  TG_CHECK(IoError, !path_.empty(), "AtomicFile: empty path");
  static std::atomic<unsigned> counter{0};
  // O_EXCL with a name unique to this process and call; mode 0666 lets the umask decide, as for
  // any file the program creates (mkstemp would force 0600).
  for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
    temp_ = detail::concat(path_, ".tmp.", ::getpid(), ".", counter++);
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0 && errno != EEXIST) break;
  }
  if (fd_ < 0) {
    const int err = errno;
    temp_.clear();
    throw IoError(detail::concat(path_, ": cannot create a temporary file in '", directory_of(path_),
                                 "': ", std::strerror(err)));
  }
  buffer_.reserve(kBufferSize);
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temp_.empty()) ::unlink(temp_.c_str());
  temp_.clear();
}

void AtomicFile::write(const void* data, std::size_t size) {
  TG_CHECK(StateError, fd_ >= 0, path_, ": write after commit");
  if (buffer_.size() + size <= kBufferSize) {
    buffer_.append(static_cast<const char*>(data), size);
    return;
  }
  flush();
  if (size <= kBufferSize) {
    buffer_.append(static_cast<const char*>(data), size);
    return;
  }
  io_detail::write_all(fd_, data, size, path_);
}

void AtomicFile::flush() {
  io_detail::write_all(fd_, buffer_.data(), buffer_.size(), path_);
  buffer_.clear();
}

void AtomicFile::commit() {
  TG_CHECK(StateError, fd_ >= 0, path_, ": commit called twice");
  flush();
  if (::fsync(fd_) != 0) {
    throw IoError(detail::concat(path_, ": fsync failed: ", std::strerror(errno)));
  }
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    throw IoError(detail::concat(path_, ": close failed: ", std::strerror(errno)));
  }
  if (::rename(temp_.c_str(), path_.c_str()) != 0) {
    throw IoError(detail::concat(path_, ": cannot rename the temporary file over it: ", std::strerror(errno)));
  }
  temp_.clear();
  // The rename itself is durable only once the directory is synced; a failure here leaves a
  // complete file in place, so it is not reported.
  const int dir = ::open(directory_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

std::string read_file(const std::string& path, std::size_t max_bytes) {
  io_detail::FileReader in(path);
  TG_CHECK(IoError, in.size() <= max_bytes, path, ": file of ", in.size(), " bytes exceeds the limit of ",
           max_bytes, " bytes");
  std::string out(std::size_t(in.size()), '\0');
  in.read_exact(out.data(), out.size(), "file content");
  return out;
}

namespace io_detail {

void write_all(int fd, const void* data, std::size_t size, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ::ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoError(detail::concat(path, ": write failed: ", std::strerror(errno)));
    }
    p += n;
    size -= std::size_t(n);
  }
}

FileReader::FileReader(const std::string& path) : name_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw IoError(detail::concat(path, ": cannot open: ", std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    throw IoError(detail::concat(path, ": cannot stat: ", std::strerror(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw IoError(detail::concat(path, ": not a regular file"));
  }
  size_ = std::uint64_t(st.st_size);
}

FileReader::~FileReader() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t FileReader::read(void* dst, std::size_t n) {
  char* p = static_cast<char*>(dst);
  std::size_t got = 0;
  while (got < n) {
    const ::ssize_t r = ::read(fd_, p + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw IoError(detail::concat(name_, ": read failed: ", std::strerror(errno)));
    }
    if (r == 0) break;
    got += std::size_t(r);
  }
  position_ += got;
  return got;
}

void Reader::read_exact(void* dst, std::size_t n, const char* what) {
  const std::size_t got = read(dst, n);
  TG_CHECK(IoError, got == n, name(), ": truncated: expected ", n, " bytes of ", what, ", found ", got);
}

}  // namespace io_detail

}  // namespace tapegrad::io
