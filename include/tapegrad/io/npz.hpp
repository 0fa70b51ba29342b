#pragma once
/// Layer 6: NumPy's `.npz` format: a zip archive of `.npy` files, one per named array, as
/// written by `numpy.savez` / `numpy.savez_compressed` and read by `numpy.load`.
///
///     tapegrad::StateDict<float> arrays = {{"x", features}, {"y", targets}};
///     tapegrad::io::write_npz("data.npz", arrays);                 // np.load("data.npz")["x"]
///     auto back = tapegrad::io::read_npz<float>("data.npz");       // in archive order
///
/// Reading validates the archive (libzip's consistency check), each entry's name and size, and
/// each `.npy` header before allocating; any problem is an IoError naming the file and entry.
#include <string>

#include "tapegrad/array.hpp"
#include "tapegrad/io/file.hpp"

namespace tapegrad::io {

/// How `write_npz` stores entries.
enum class NpzCompression {
  none,     ///< stored, as `numpy.savez` does (fastest)
  deflate,  ///< deflated, as `numpy.savez_compressed` does
};

/// Reads every array of a `.npz` file, keyed by name (the entry name without ".npy"), in the
/// order of the archive, converting elements to T. Arrays that would take more than
/// `options.max_bytes` in memory together (default 2 GiB, counted after decompression and
/// widening: a 1 MB archive of u1 zeros holds 1 GB, 4 GB as float) are an IoError before they
/// are allocated, as is running out of memory.
template <class T>
StateDict<T> read_npz(const std::string& path, const LoadOptions& options = {});

/// Writes `arrays` as a `.npz` file; entry `name` becomes `name.npy`. Names must be non-empty
/// and unique (ValueError otherwise, checked before the file is touched). The archive is built
/// in memory and written atomically (see AtomicFile); entries carry a fixed timestamp, so the
/// same arrays always give the same bytes.
template <class T>
void write_npz(const std::string& path, const StateDict<T>& arrays,
               NpzCompression compression = NpzCompression::none);

}  // namespace tapegrad::io
