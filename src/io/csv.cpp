// Numeric CSV: read the whole file, split lines and fields, parse with std::from_chars
// (locale-independent, exact).
#include "tapegrad/io/csv.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "io/internal.hpp"
#include "tapegrad/error.hpp"
#include "tapegrad/io/file.hpp"

namespace tapegrad::io {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

// Splits a line at the delimiter (no quoting rules beyond trim's outer quotes).
void split(std::string_view line, char delimiter, std::vector<std::string_view>& out) {
  out.clear();
  std::size_t start = 0;
  while (true) {
    const std::size_t end = line.find(delimiter, start);
    out.push_back(trim(line.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start)));
    if (end == std::string_view::npos) return;
    start = end + 1;
  }
}

// The line that starts at `pos`, without its end: "\n", "\r\n" or a lone "\r" (old Mac files,
// and some spreadsheets' exports). Moves `pos` past the line end.
std::string_view next_line(const std::string& text, std::size_t& pos) {
  std::size_t end = text.find_first_of("\r\n", pos);
  if (end == std::string::npos) end = text.size();
  const std::string_view line(text.data() + pos, end - pos);
  pos = end + (end + 1 < text.size() && text[end] == '\r' && text[end + 1] == '\n' ? 2 : 1);
  return line;
}

bool blank(std::string_view line) { return trim(line).empty() && line.find('"') == std::string_view::npos; }

std::string shown(std::string_view field) {
  constexpr std::size_t kMax = 40;
  return field.size() <= kMax ? std::string(field) : std::string(field.substr(0, kMax)) + "...";
}

template <class T>
CsvTable<T> read_table(const std::string& path, const CsvOptions& options) {
  const std::string text = read_file(path, std::size_t(std::min<std::uint64_t>(options.max_bytes(), SIZE_MAX)));
  std::size_t start = 0;
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) start = 3;  // a UTF-8 byte-order mark
  // First pass: the columns and the number of rows, so that the values go straight into an
  // array of the right size (no growing vector, no copy), whose size is checked first.
  CsvTable<T> table;
  std::vector<std::string_view> fields;
  std::size_t rows = 0, header_line = 0, line_no = 0;
  for (std::size_t pos = start; pos < text.size();) {
    const std::string_view line = next_line(text, pos);
    ++line_no;
    if (blank(line)) continue;
    if (header_line == 0) {
      header_line = line_no;
      split(line, options.delimiter(), fields);
      for (std::size_t c = 0; c < fields.size(); ++c) {
        if (options.header()) {
          TG_CHECK(IoError, !fields[c].empty(), path, ":", line_no, ": column ", c + 1, " of the header has no name");
          table.columns.emplace_back(fields[c]);
        } else {
          table.columns.push_back(std::to_string(c));
        }
      }
      if (options.header()) continue;
    }
    ++rows;
  }
  TG_CHECK(IoError, header_line != 0, path, ": empty file (no header)");
  const Shape shape{rows, table.columns.size()};
  const std::uint64_t bytes = std::uint64_t(io_detail::checked_numel(path, shape)) * sizeof(T);
  TG_CHECK(IoError, bytes <= options.max_bytes() - text.size(), path, ": ", rows, " rows of ", table.columns.size(),
           " columns take ", bytes, " bytes as ", std::is_same_v<T, float> ? "float" : "double", ", which with the file's ",
           text.size(), " bytes is more than the limit of ", options.max_bytes(),
           " bytes on what one load may allocate (CsvOptions::max_bytes)");
  table.values = io_detail::allocate<T>(path, shape);

  // Second pass: parse every field.
  T* out = table.values.data();
  line_no = 0;
  for (std::size_t pos = start; pos < text.size();) {
    const std::string_view line = next_line(text, pos);
    ++line_no;
    if (blank(line) || (options.header() && line_no == header_line)) continue;
    split(line, options.delimiter(), fields);
    TG_CHECK(IoError, fields.size() == table.columns.size(), path, ":", line_no, ": ", fields.size(),
             " fields where the ", options.header() ? "header has " : "first row has ", table.columns.size());
    for (std::size_t c = 0; c < fields.size(); ++c) {
      const std::string_view f = fields[c];
      TG_CHECK(IoError, !f.empty(), path, ":", line_no, ": column ", c + 1, " ('", table.columns[c],
               "') is empty");
      // from_chars does not take a leading '+'; accept it as strtod does.
      const char* first = f.data() + (f.size() > 1 && f[0] == '+' ? 1 : 0);
      const char* last = f.data() + f.size();
      T v = 0;  // parsed as T directly: no double rounding through double
      const auto [ptr, ec] = std::from_chars(first, last, v);
      TG_CHECK(IoError, ec != std::errc::invalid_argument && ptr == last, path, ":", line_no, ": column ", c + 1,
               " ('", table.columns[c], "'): '", shown(f), "' is not a number");
      TG_CHECK(IoError, ec != std::errc::result_out_of_range, path, ":", line_no, ": column ", c + 1, " ('",
               table.columns[c], "'): '", shown(f), "' is out of range");
      *out++ = v;
    }
  }
  return table;
}

}  // namespace

template <class T>
std::size_t CsvTable<T>::column(const std::string& name) const {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == name) return i;
  }
  std::string names;
  for (const auto& c : columns) names += (names.empty() ? "" : ", ") + c;
  throw ValueError(detail::concat("CsvTable: no column named '", name, "' (columns: ", names, ")"));
}

template <class T>
CsvTable<T> read_csv(const std::string& path, const CsvOptions& options) {
  return io_detail::out_of_memory_is_io_error(path, [&] { return read_table<T>(path, options); });
}

template <class T>
void write_csv(const std::string& path, const std::vector<std::string>& columns, const Array<T>& values) {
  TG_CHECK(ShapeError, values.dimension() == 2 && values.shape()[1] == columns.size(), "write_csv: ", path,
           ": values of shape ", to_string(values.shape()), " for ", columns.size(), " column names");
  std::string out;
  for (std::size_t c = 0; c < columns.size(); ++c) {
    TG_CHECK(ValueError, columns[c].find_first_of(",\"\r\n") == std::string::npos, "write_csv: ", path,
             ": column name '", columns[c], "' contains a delimiter, quote or line break");
    out += (c ? "," : "") + columns[c];
  }
  out += '\n';
  AtomicFile file(path);
  file.write(out);
  char buf[64];
  for (std::size_t r = 0; r < values.shape()[0]; ++r) {
    out.clear();
    for (std::size_t c = 0; c < columns.size(); ++c) {
      if (c) out += ',';
      const auto res = std::to_chars(buf, buf + sizeof buf, values(r, c));
      out.append(buf, res.ptr);
    }
    out += '\n';
    file.write(out);
  }
  file.commit();
}

template struct CsvTable<float>;
template struct CsvTable<double>;
template CsvTable<float> read_csv<float>(const std::string&, const CsvOptions&);
template CsvTable<double> read_csv<double>(const std::string&, const CsvOptions&);
template void write_csv<float>(const std::string&, const std::vector<std::string>&, const Array<float>&);
template void write_csv<double>(const std::string&, const std::vector<std::string>&, const Array<double>&);

}  // namespace tapegrad::io
