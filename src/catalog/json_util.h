// Internal to the catalog importers: typed reads of JSON fields with errors that name the
// field. Includes nlohmann/json, so only importer .cpp files include it.
#pragma once

#include <string>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "catalog/import.h"
#include "core/result.h"

namespace codefleet::json_util {

// A field that must be a string when present; absent or null reads as "".
inline Result<std::string> string_field(const nlohmann::json& obj, const char* name,
                                        const std::string& where) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    return make_error(ErrorCode::kInvalidInput,
                      fmt::format("field '{}' must be a string, got {}", name, it->type_name()),
                      where);
  }
  return it->get<std::string>();
}

// A whole JSON document. Both of the parser's refusals are an input error: a syntax error
// ("file:line:col") and a number too large for a double (1e400), which nlohmann reports as
// `out_of_range`, not `parse_error`, without a position.
inline Result<nlohmann::json> parse_document(const std::string& name, const std::string& text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return make_error(ErrorCode::kInvalidInput, fmt::format("not valid JSON: {}", e.what()),
                      text_position(name, text, e.byte > 0 ? e.byte - 1 : 0));
  } catch (const nlohmann::json::out_of_range& e) {
    return make_error(ErrorCode::kInvalidInput, fmt::format("not valid JSON: {}", e.what()), name);
  }
}

}  // namespace codefleet::json_util
