// A small RFC 4180 CSV reader/writer: quoted fields, doubled quotes, CRLF, and
// line numbers on every row so errors can point at "file:line".
//
//   auto table = parse_csv(text, "vm-prices.csv");
//   for (const CsvRow& row : table->rows) row.get("sku");
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace codefleet {

struct CsvRow {
  int line = 0;  // 1-based line of the row in its file
  std::vector<std::string> cells;
  std::shared_ptr<const std::vector<std::string>> header;
  // The cell under column `name`; "" when the row is short.
  const std::string& get(std::string_view name) const;
};

struct CsvTable {
  std::string file;
  std::vector<std::string> header;
  std::vector<CsvRow> rows;
  bool has_column(std::string_view name) const;
};

// Parses `text`; `file` names it in errors. Requires the columns in `required`.
Result<CsvTable> parse_csv(std::string_view text, const std::string& file,
                           const std::vector<std::string>& required = {});
// Quotes a cell when it holds a comma, quote or newline.
std::string csv_escape(std::string_view cell);
std::string csv_line(const std::vector<std::string>& cells);

}  // namespace codefleet
