// The lint's parser: Terraform and Bicep text as one kind of tree — blocks, resources,
// attributes, objects and lists, each node with its line.
#pragma once

#include <string>
#include <vector>

namespace codefleet::iac::lint {

struct Node {
  std::string key;                  // attribute, block type or property; "" for list items
  std::vector<std::string> labels;  // HCL block labels; Bicep resource: {type, symbol}
  std::string value;                // scalar: a string's contents, or the expression text
  bool container = false;           // block, object or list
  int line = 0;
  std::vector<Node> children;

  const Node* child(const std::string& k) const;
  std::vector<const Node*> all(const std::string& k) const;
  // A child by dotted path: "properties.enableRBAC".
  const Node* at(const std::string& path) const;
};

// Top-level nodes: HCL blocks; for Bicep, `resource` declarations only. Throws nothing;
// returns false with `error` ("line N: ...") when the text does not parse.
bool parse_hcl(const std::string& text, std::vector<Node>& out, std::string& error);
bool parse_bicep(const std::string& text, std::vector<Node>& out, std::string& error);

}  // namespace codefleet::iac::lint
