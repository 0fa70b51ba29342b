// .npz through libzip: reading straight from the file, writing into an in-memory archive that
// AtomicFile then puts on disk.
#include "tapegrad/io/npz.hpp"

#include <zip.h>

#include <cstring>
#include <memory>
#include <set>

#include "io/internal.hpp"
#include "tapegrad/error.hpp"
#include "tapegrad/io/file.hpp"

namespace tapegrad::io {

namespace {

// A deflate stream expands at most ~1032:1. A larger claimed size is a lie (or a zip bomb):
// rejected before allocating.
constexpr std::uint64_t kMaxDeflateRatio = 1032;
// A fixed entry time (1980-01-02, after the DOS epoch in every time zone): same arrays, same bytes.
constexpr time_t kEntryTime = 315619200;

struct ZipCloser {
  void operator()(zip_t* z) const noexcept { zip_discard(z); }
};
struct FileCloser {
  void operator()(zip_file_t* f) const noexcept { zip_fclose(f); }
};

// One archive entry as a byte source for the .npy reader; its size is the archive's claim,
// which the reader checks against the header and which the read itself then confirms.
class ZipEntryReader final : public io_detail::Reader {
 public:
  ZipEntryReader(zip_file_t* f, std::uint64_t size, std::string name) : f_(f), size_(size), name_(std::move(name)) {}
  std::size_t read(void* dst, std::size_t n) override {
    char* p = static_cast<char*>(dst);
    std::size_t got = 0;
    while (got < n) {
      const zip_int64_t r = zip_fread(f_, p + got, n - got);
      TG_CHECK(IoError, r >= 0, name_, ": cannot read: ", zip_strerror_file());
      if (r == 0) break;
      got += std::size_t(r);
    }
    position_ += got;
    return got;
  }
  std::uint64_t size() const override { return size_; }
  std::uint64_t position() const override { return position_; }
  const std::string& name() const override { return name_; }

 private:
  const char* zip_strerror_file() const { return zip_file_strerror(f_); }
  zip_file_t* f_;
  std::uint64_t size_;
  std::uint64_t position_ = 0;
  std::string name_;
};

std::string zip_error_text(int code) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  std::string text = zip_error_strerror(&e);
  zip_error_fini(&e);
  return text;
}

// The 22-byte end-of-central-directory record of an archive with no entries (what
// numpy.savez writes for no arrays; libzip deletes an empty archive instead of writing it).
std::string empty_zip() {
  std::string z(22, '\0');
  z[0] = 'P';
  z[1] = 'K';
  z[2] = 5;
  z[3] = 6;
  return z;
}

}  // namespace

namespace {
template <class T>
StateDict<T> read_entries(const std::string& path, const LoadOptions& options, const io_detail::NpzEntryHook& hook) {
  // libzip reads through the path; FileReader gives a clear message for a missing file or a
  // directory first, and the size that bounds every entry.
  const std::uint64_t file_size = io_detail::FileReader(path).size();
  io_detail::Budget budget(options);
  int code = 0;
  std::unique_ptr<zip_t, ZipCloser> za(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code));
  TG_CHECK(IoError, za != nullptr, path, ": not a readable .npz (zip) archive: ", zip_error_text(code));
  const zip_int64_t n = zip_get_num_entries(za.get(), 0);
  TG_CHECK(IoError, n >= 0, path, ": cannot list the archive");
  StateDict<T> out;
  std::set<std::string> seen;
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    TG_CHECK(IoError, zip_stat_index(za.get(), zip_uint64_t(i), 0, &st) == 0, path, ": cannot read entry ", i, ": ",
             zip_strerror(za.get()));
    const std::string entry = st.name ? st.name : "";
    const std::string where = path + ": entry '" + entry + "'";
    const std::size_t len = entry.size();
    TG_CHECK(IoError, len > 4 && entry.compare(len - 4, 4, ".npy") == 0, where, " is not a .npy file");
    TG_CHECK(IoError, (st.valid & ZIP_STAT_SIZE) && (st.valid & ZIP_STAT_COMP_SIZE), where, ": sizes unknown");
    TG_CHECK(IoError, !(st.valid & ZIP_STAT_ENCRYPTION_METHOD) || st.encryption_method == ZIP_EM_NONE, where,
             " is encrypted");
    TG_CHECK(IoError, st.comp_size <= file_size, where, " claims ", st.comp_size,
             " compressed bytes, more than the file's ", file_size);
    TG_CHECK(IoError, st.size <= st.comp_size * kMaxDeflateRatio + 1024, where, " claims ", st.size,
             " bytes, more than ", st.comp_size, " compressed bytes can hold");
    std::string name = entry.substr(0, len - 4);
    TG_CHECK(IoError, seen.insert(name).second, where, " appears twice");
    std::unique_ptr<zip_file_t, FileCloser> f(zip_fopen_index(za.get(), zip_uint64_t(i), 0));
    TG_CHECK(IoError, f != nullptr, where, ": cannot open: ", zip_strerror(za.get()));
    ZipEntryReader in(f.get(), st.size, where);
    const io_detail::NpyHeader header = io_detail::read_npy_header(in);
    if (!(hook && hook(name, header, in))) out.emplace_back(name, io_detail::read_npy_data<T>(in, header, budget));
    // The claimed size was checked against the header; a shorter stream was a truncation error
    // above. A longer one (a lying directory) shows as extra bytes here.
    char extra;
    TG_CHECK(IoError, in.read(&extra, 1) == 0, where, ": more data than the archive directory says");
  }
  return out;
}
}  // namespace

namespace io_detail {

template <class T>
StateDict<T> read_npz_entries(const std::string& path, const LoadOptions& options, const NpzEntryHook& hook) {
  return out_of_memory_is_io_error(path, [&] { return read_entries<T>(path, options, hook); });
}

}  // namespace io_detail

template <class T>
StateDict<T> read_npz(const std::string& path, const LoadOptions& options) {
  return io_detail::read_npz_entries<T>(path, options, nullptr);
}

template <class T>
void write_npz(const std::string& path, const StateDict<T>& arrays, NpzCompression compression) {
  std::set<std::string> names;
  for (const auto& [name, a] : arrays) {
    TG_CHECK(ValueError, !name.empty(), "write_npz: ", path, ": an array has an empty name");
    TG_CHECK(ValueError, names.insert(name).second, "write_npz: ", path, ": the name '", name, "' appears twice");
  }
  std::vector<std::pair<std::string, std::string>> files;
  files.reserve(arrays.size());
  for (const auto& [name, a] : arrays) files.emplace_back(name, io_detail::npy_bytes(a));
  io_detail::write_npz_files(path, files, compression == NpzCompression::deflate);
}

void io_detail::write_npz_files(const std::string& path, const std::vector<std::pair<std::string, std::string>>& files,
                                bool deflate) {
  if (files.empty()) {
    AtomicFile out(path);
    out.write(empty_zip());
    out.commit();
    return;
  }

  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
  TG_CHECK(IoError, buffer != nullptr, path, ": cannot create an archive in memory: ", zip_error_strerror(&error));
  zip_source_keep(buffer);  // survives zip_close, which writes the archive into it
  struct SourceFree {
    void operator()(zip_source_t* s) const noexcept { zip_source_free(s); }
  };
  std::unique_ptr<zip_source_t, SourceFree> keep(buffer);
  std::unique_ptr<zip_t, ZipCloser> za(zip_open_from_source(buffer, ZIP_TRUNCATE, &error));
  TG_CHECK(IoError, za != nullptr, path, ": cannot create an archive in memory: ", zip_error_strerror(&error));

  // libzip reads the entries' bytes at zip_close: `files` lives until then.
  for (const auto& [name, bytes] : files) {
    zip_source_t* src = zip_source_buffer(za.get(), bytes.data(), bytes.size(), 0);
    TG_CHECK(IoError, src != nullptr, path, ": ", zip_strerror(za.get()));
    const zip_int64_t idx = zip_file_add(za.get(), (name + ".npy").c_str(), src, ZIP_FL_ENC_UTF_8);
    if (idx < 0) {
      zip_source_free(src);
      throw IoError(detail::concat(path, ": cannot add '", name, "': ", zip_strerror(za.get())));
    }
    const zip_int32_t method = deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE;
    TG_CHECK(IoError,
             zip_set_file_compression(za.get(), zip_uint64_t(idx), method, 0) == 0 &&
                 zip_file_set_mtime(za.get(), zip_uint64_t(idx), kEntryTime, 0) == 0,
             path, ": ", zip_strerror(za.get()));
  }
  TG_CHECK(IoError, zip_close(za.get()) == 0, path, ": cannot build the archive: ", zip_strerror(za.get()));
  za.release();  // zip_close freed it

  TG_CHECK(IoError, zip_source_open(buffer) == 0, path, ": ", zip_error_strerror(zip_source_error(buffer)));
  zip_source_seek(buffer, 0, SEEK_END);
  const zip_int64_t size = zip_source_tell(buffer);
  zip_source_seek(buffer, 0, SEEK_SET);
  std::string bytes(size > 0 ? std::size_t(size) : 0, '\0');
  const zip_int64_t got = zip_source_read(buffer, bytes.data(), bytes.size());
  zip_source_close(buffer);
  TG_CHECK(IoError, size > 0 && got == size, path, ": cannot read back the archive built in memory");

  AtomicFile out(path);
  out.write(bytes);
  out.commit();
}

template StateDict<float> read_npz<float>(const std::string&, const LoadOptions&);
template StateDict<double> read_npz<double>(const std::string&, const LoadOptions&);
template StateDict<float> io_detail::read_npz_entries<float>(const std::string&, const LoadOptions&,
                                                             const io_detail::NpzEntryHook&);
template StateDict<double> io_detail::read_npz_entries<double>(const std::string&, const LoadOptions&,
                                                               const io_detail::NpzEntryHook&);
template void write_npz<float>(const std::string&, const StateDict<float>&, NpzCompression);
template void write_npz<double>(const std::string&, const StateDict<double>&, NpzCompression);

}  // namespace tapegrad::io
