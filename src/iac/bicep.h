// Bicep files as a list of declarations (targetScope, params, vars, resources, modules,
// outputs), written canonically: two-space indent, one property or element per line,
// single-quoted strings. Plus the structural check the tests and `iac lint` run: every
// resource type and API version is one this table knows, and every symbol is declared
// before it is used.
//
//   BicepDecl kv = bicep_resource("kv", "Microsoft.KeyVault/vaults",
//                                 Value::object({{"name", Value::str("kv-x")}}));
//   std::string text = write_bicep({kv}, "Key Vault.");
#pragma once

#include <map>
#include <string>
#include <vector>

#include "iac/value.h"

namespace codefleet::iac {

struct BicepDecl {
  enum class Kind { kTargetScope, kParam, kVar, kResource, kModule, kOutput };
  Kind kind = Kind::kResource;
  std::string comment;                  // "// ..." lines above it
  std::vector<std::string> decorators;  // "secure()", "description('...')"
  std::string symbol;                   // param/var/resource/module/output name
  std::string type;       // param/output type, 'Type@version' of a resource, module path
  std::string condition;  // resources and modules: `if (condition)`
  Value value;            // default, value, or body
  bool has_value = true;  // params without a default
};

// The API version this code emits for each resource type it uses.
const std::map<std::string, std::string>& bicep_api_versions();

// A resource declaration with the table's API version for `type`.
BicepDecl bicep_resource(const std::string& symbol, const std::string& type, Value body,
                         const std::string& comment = {});

std::string bicep_value(const Value& v, int indent = 0);
std::string bicep_quote(const std::string& s);
std::string write_bicep(const std::vector<BicepDecl>& decls, const std::string& header);

// A finding of the structural check: "line: message".
struct BicepProblem {
  int line = 0;
  std::string message;
};
// Checks Bicep text: resource types and API versions against the table, symbols
// (params, vars, resources, modules) declared before they are used, module files among
// `files` (paths relative to the same folder).
std::vector<BicepProblem> check_bicep(const std::string& text,
                                      const std::vector<std::string>& files = {});

}  // namespace codefleet::iac
