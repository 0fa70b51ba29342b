// Numeric CSV: read the whole file, split lines and fields, parse with std::from_chars
// (locale-independent, exact).
#include "tapegrad/io/csv.hpp"

#include <charconv>
#include <string_view>
#include <type_traits>

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
  const std::string text = read_file(path);
  CsvTable<T> table;
  std::vector<T> values;
  std::vector<std::string_view> fields;
  std::size_t line_no = 0, rows = 0;
  bool have_header = false;
  std::size_t pos = 0;
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) pos = 3;  // a UTF-8 byte-order mark
  while (pos < text.size()) {
    const std::string_view line = next_line(text, pos);
    ++line_no;
    if (blank(line)) continue;
    split(line, options.delimiter_, fields);
    if (!have_header) {
      have_header = true;
      if (options.header_) {
        for (std::size_t c = 0; c < fields.size(); ++c) {
          TG_CHECK(IoError, !fields[c].empty(), path, ":", line_no, ": column ", c + 1, " of the header has no name");
          table.columns.emplace_back(fields[c]);
        }
        continue;
      }
      for (std::size_t c = 0; c < fields.size(); ++c) table.columns.push_back(std::to_string(c));
    }
    TG_CHECK(IoError, fields.size() == table.columns.size(), path, ":", line_no, ": ", fields.size(),
             " fields where the ", options.header_ ? "header has " : "first row has ", table.columns.size());
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
      values.push_back(v);
    }
    ++rows;
  }
  TG_CHECK(IoError, have_header, path, ": empty file (no header)");
  table.values = Array<T>(Shape{rows, table.columns.size()});
  std::copy(values.begin(), values.end(), table.values.begin());
  return table;
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
