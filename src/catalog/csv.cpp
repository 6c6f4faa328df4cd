#include "catalog/csv.h"

#include <fmt/format.h>

#include "core/text.h"

namespace codefleet {

const std::string& CsvRow::get(std::string_view name) const {
  static const std::string kEmpty;
  if (header == nullptr) return kEmpty;
  for (size_t i = 0; i < header->size(); ++i) {
    if ((*header)[i] == name) return i < cells.size() ? cells[i] : kEmpty;
  }
  return kEmpty;
}

bool CsvTable::has_column(std::string_view name) const {
  for (const auto& h : header) {
    if (h == name) return true;
  }
  return false;
}

Result<CsvTable> parse_csv(std::string_view text, const std::string& file,
                           const std::vector<std::string>& required, CsvShape shape) {
  text = without_utf8_bom(text);
  CsvTable table;
  table.file = file;
  std::vector<std::vector<std::string>> records;
  std::vector<int> record_lines;
  std::vector<std::string> record;
  std::string cell;
  bool in_quotes = false, cell_started = false;
  int line = 1, record_line = 1;
  auto end_record = [&]() {
    record.push_back(cell);
    cell.clear();
    cell_started = false;
    bool blank = record.size() == 1 && trim(record[0]).empty();
    if (!blank) {
      records.push_back(std::move(record));
      record_lines.push_back(record_line);
    }
    record.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          cell += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        cell += c;
      }
      continue;
    }
    if (c == '"' && !cell_started) {
      in_quotes = true;
      cell_started = true;
    } else if (c == ',') {
      record.push_back(cell);
      cell.clear();
      cell_started = false;
    } else if (c == '\r') {
      continue;
    } else if (c == '\n') {
      end_record();
      ++line;
      record_line = line;
    } else {
      cell += c;
      cell_started = true;
    }
  }
  if (in_quotes) {
    return make_error(ErrorCode::kInvalidInput, "unterminated quoted field",
                      fmt::format("{}:{}", file, record_line));
  }
  if (!cell.empty() || !record.empty()) end_record();
  if (records.empty()) {
    return make_error(ErrorCode::kInvalidInput, "empty file (expected a header row)", file + ":1");
  }
  table.header = std::move(records[0]);
  for (const auto& col : required) {
    if (!table.has_column(col)) {
      return make_error(ErrorCode::kInvalidInput, fmt::format("missing column '{}'", col),
                        file + ":1");
    }
  }
  auto shared_header = std::make_shared<const std::vector<std::string>>(table.header);
  for (size_t r = 1; r < records.size(); ++r) {
    if (shape == CsvShape::kRectangular && records[r].size() != table.header.size()) {
      return make_error(ErrorCode::kInvalidInput,
                        fmt::format("row has {} cells, the header has {}", records[r].size(),
                                    table.header.size()),
                        fmt::format("{}:{}", file, record_lines[r]));
    }
    table.rows.push_back(CsvRow{record_lines[r], std::move(records[r]), shared_header});
  }
  return table;
}

std::string csv_escape(std::string_view cell) {
  if (cell.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(cell);
  std::string out = "\"";
  for (char c : cell) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_line(const std::vector<std::string>& cells) {
  std::string out;
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i) out += ',';
    out += csv_escape(cells[i]);
  }
  return out + "\n";
}

}  // namespace codefleet
