// Internal to the catalog importers: typed reads of JSON fields with errors that name the
// field. Includes nlohmann/json, so only importer .cpp files include it.
#pragma once

#include <string>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

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

}  // namespace codefleet::json_util
