#include "iac/value.h"

namespace codefleet::iac {

Value::Value() = default;

Value Value::str(std::string s) {
  Value v;
  v.kind = Kind::kString;
  v.text = std::move(s);
  return v;
}

Value Value::num(int64_t n) {
  Value v;
  v.kind = Kind::kNumber;
  v.text = std::to_string(n);
  return v;
}

Value Value::boolean(bool b) {
  Value v;
  v.kind = Kind::kBool;
  v.text = b ? "true" : "false";
  return v;
}

Value Value::ref(std::string expression) {
  Value v;
  v.kind = Kind::kRef;
  v.text = std::move(expression);
  return v;
}

Value Value::list(std::vector<Value> items, bool inline_list) {
  Value v;
  v.kind = Kind::kList;
  v.items = std::move(items);
  v.inline_ = inline_list;
  return v;
}

Value Value::strings(const std::vector<std::string>& items, bool inline_list) {
  std::vector<Value> values;
  for (const auto& s : items) values.push_back(str(s));
  return list(std::move(values), inline_list);
}

Value Value::object(std::vector<std::pair<std::string, Value>> entries, bool inline_obj) {
  Value v;
  v.kind = Kind::kObject;
  v.entries = std::move(entries);
  v.inline_ = inline_obj;
  return v;
}

Value Value::string_map(const std::map<std::string, std::string>& m) {
  std::vector<std::pair<std::string, Value>> entries;
  for (const auto& [k, s] : m) entries.emplace_back(k, str(s));
  return object(std::move(entries));
}

Value Value::call(std::string function, std::vector<Value> args) {
  Value v;
  v.kind = Kind::kCall;
  v.text = std::move(function);
  v.items = std::move(args);
  return v;
}

const Value* Value::get(const std::string& key) const {
  for (const auto& [k, v] : entries) {
    if (k == key) return &v;
  }
  return nullptr;
}

}  // namespace codefleet::iac
