// A small RFC 4180 CSV reader/writer: quoted fields, doubled quotes, CRLF, a leading
// UTF-8 byte order mark, and line numbers on every row so errors can point at "file:line".
// The catalog and the workload traces both read their CSV through it.
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

// Whether a row with more or fewer cells than the header is an error (`kRectangular`) or
// is kept for the caller to judge (`kRagged`: a trace that may skip and count bad rows).
enum class CsvShape { kRectangular, kRagged };

// Parses `text`; `file` names it in errors. Requires the columns in `required`. Lines
// that are empty or only blanks are skipped.
Result<CsvTable> parse_csv(std::string_view text, const std::string& file,
                           const std::vector<std::string>& required = {},
                           CsvShape shape = CsvShape::kRectangular);
// Quotes a cell when it holds a comma, quote or newline.
std::string csv_escape(std::string_view cell);
std::string csv_line(const std::vector<std::string>& cells);

}  // namespace codefleet
