#pragma once
/// Layer 6: numeric CSV with a header row, as spreadsheets and pandas write it.
///
///     auto table = tapegrad::io::read_csv<float>("breast_cancer.csv");
///     auto y = xt::view(table.values, xt::all(), table.column("target"));  // <xtensor/xview.hpp>
///
/// Every field must be a number (std::from_chars syntax: "1", "-2.5e-3", "nan", "inf"), every
/// row must have as many fields as the header. A bad field or a ragged row is an IoError
/// naming the file, the line and the column. Blank lines are skipped; lines end with "\n",
/// "\r\n" or a lone "\r" (old Mac files); fields may be surrounded by spaces and by double
/// quotes (no quotes, delimiters or line breaks inside).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tapegrad/arg.hpp"
#include "tapegrad/array.hpp"
#include "tapegrad/io/file.hpp"

namespace tapegrad::io {

/// Options of read_csv.
struct CsvOptions {
  /// The field separator.
  TAPEGRAD_ARG(char, delimiter) = ',';
  /// Whether the first line names the columns. Without a header the columns are named "0",
  /// "1", ...
  TAPEGRAD_ARG(bool, header) = true;
  /// The most memory the load may take, in bytes (default 2 GiB, as LoadOptions): the file,
  /// read whole, plus the table's values (rows × columns × sizeof(T)). A file that needs more
  /// is an IoError before the values are allocated.
  TAPEGRAD_ARG(std::uint64_t, max_bytes) = kDefaultMaxLoadBytes;
};

/// A numeric table: column names and a (rows, columns) array.
template <class T>
struct CsvTable {
  std::vector<std::string> columns;
  Array<T> values;
  /// The index of the column named `name`; throws ValueError naming the columns if none is.
  std::size_t column(const std::string& name) const;
};

/// Reads a numeric CSV file.
template <class T>
CsvTable<T> read_csv(const std::string& path, const CsvOptions& options = {});

/// Writes `values` (rows, columns) under a header of `columns`, each number in the shortest form
/// that reads back to the same value. Atomic (see AtomicFile). Throws ShapeError if `values` is
/// not 2-D with one column per name, ValueError for a name containing ',', '"' or a line break.
template <class T>
void write_csv(const std::string& path, const std::vector<std::string>& columns, const Array<T>& values);

}  // namespace tapegrad::io
