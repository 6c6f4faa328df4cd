// Terraform files as a small tree of blocks and attributes, written the way
// `terraform fmt` writes them: two-space indent, `=` aligned across consecutive
// one-line attributes (a blank line, a comment, a block or a multi-line value ends a
// run), a blank line around nested blocks. Same tree in, same bytes out.
//
//   HclBlock rg("resource", {"azurerm_resource_group", "platform"});
//   rg.attr("name", Value::str("rg-autocoding")).attr("location", Value::str("westeurope"));
//   rg.block("timeouts").attr("create", Value::str("30m"));
//   std::string text = write_hcl({rg}, "Resource groups.");
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "iac/value.h"

namespace codefleet::iac {

struct HclBlock;

struct HclEntry {
  std::string name;  // attribute name (empty for a block)
  Value value;
  std::string comment;              // "# ..." lines above it ('\n' separates lines); "" = none
  std::shared_ptr<HclBlock> block;  // set for a nested block
};

struct HclBlock {
  HclBlock() = default;
  HclBlock(std::string type, std::vector<std::string> labels = {}, std::string comment = {});
  std::string type;
  std::vector<std::string> labels;
  std::string comment;  // lines above the block
  std::vector<HclEntry> body;

  HclBlock& attr(std::string name, Value value, std::string comment = {});
  // Appends a nested block and returns it (stays valid as more entries are added).
  HclBlock& block(std::string type, std::vector<std::string> labels = {}, std::string comment = {});
};

// A value in HCL syntax, at `indent` levels (for its multi-line parts).
std::string hcl_value(const Value& v, int indent = 0);
// A double-quoted HCL string literal ("${" and "%{" escaped).
std::string hcl_quote(const std::string& s);
// A whole file: `header` as comment lines, then the blocks separated by blank lines.
std::string write_hcl(const std::vector<HclBlock>& blocks, const std::string& header);

}  // namespace codefleet::iac
