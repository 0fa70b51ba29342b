#pragma once
/// Layer 6: NumPy's `.npy` format, one array per file.
///
///     auto x = tapegrad::io::read_npy<float>("x.npy");   // any float/int/bool dtype, converted
///     tapegrad::io::write_npy("y.npy", x);                // '<f4' (float) or '<f8' (double)
///
/// The reader validates the header (magic, version, dtype, shape) and checks that the data it
/// announces matches the file's size before allocating anything: a corrupt or hostile file is
/// an IoError naming the file and what is wrong, never a crash or a huge allocation. Supported
/// dtypes: float32/64, signed and unsigned 8- to 64-bit integers, bool, either byte order;
/// C or Fortran order (a Fortran-ordered array is returned in C order).
#include <string>

#include "tapegrad/array.hpp"
#include "tapegrad/io/file.hpp"

namespace tapegrad::io {

/// Reads the array of a `.npy` file, converting its elements to T. An array that would take
/// more than `options.max_bytes` in memory (default 2 GiB; a u1 file read as double takes 8
/// times its size) is an IoError, as is running out of memory.
template <class T>
Array<T> read_npy(const std::string& path, const LoadOptions& options = {});

/// Writes `a` as a `.npy` file (format 1.0, little-endian, C order) that `numpy.load` reads.
/// Atomic: the file appears complete or not at all (see AtomicFile).
template <class T>
void write_npy(const std::string& path, const Array<T>& a);

}  // namespace tapegrad::io
