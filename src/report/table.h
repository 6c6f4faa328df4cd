// A plain-text table for terminal output: column widths fit the content, numbers
// can be right-aligned, long cells are kept whole (terminals wrap).
//
//   Table t({"SKU", "vCPUs"});
//   t.align_right(1);
//   t.add({"Standard_D4s_v5", "4"});
//   std::cout << t.render();
#pragma once

#include <string>
#include <vector>

namespace codefleet {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void align_right(size_t column) { right_.push_back(column); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  std::string render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<size_t> right_;
};

}  // namespace codefleet
