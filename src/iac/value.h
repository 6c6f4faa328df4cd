// A value in generated infrastructure code — string, number, bool, reference, list,
// object or function call — rendered by the HCL writer (hcl.h) and the Bicep writer
// (bicep.h), each in its own syntax.
//
//   Value tags = Value::object({{"environment", Value::str("prod")}});
//   Value id = Value::ref("azurerm_resource_group.platform.id");
//   Value p = Value::call("jsonencode", {Value::object({{"x", Value::num(1)}})});
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace codefleet::iac {

struct Value {
  enum class Kind { kString, kNumber, kBool, kRef, kList, kObject, kCall };
  Kind kind = Kind::kString;
  std::string text;  // string (unescaped), number digits, "true"/"false", reference, function name
  std::vector<Value> items;                            // list elements, call arguments
  std::vector<std::pair<std::string, Value>> entries;  // object entries, in order
  bool inline_ = false;  // lists and objects: on one line where the syntax allows

  // Defined out of line: clang (with libstdc++) cannot make an implicit constructor of a
  // type that holds `std::pair<std::string, Value>` while the type is incomplete.
  Value();

  static Value str(std::string s);
  static Value num(int64_t n);
  static Value boolean(bool b);
  // An expression written as it is: a reference, an arithmetic, an interpolated string.
  static Value ref(std::string expression);
  static Value list(std::vector<Value> items, bool inline_list = true);
  static Value strings(const std::vector<std::string>& items, bool inline_list = true);
  static Value object(std::vector<std::pair<std::string, Value>> entries, bool inline_obj = false);
  static Value string_map(const std::map<std::string, std::string>& m);
  static Value call(std::string function, std::vector<Value> args);

  // The entry named `key` of an object, or nullptr.
  const Value* get(const std::string& key) const;
};

}  // namespace codefleet::iac
