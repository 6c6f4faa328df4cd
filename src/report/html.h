// HTML helpers shared by the reports.
#pragma once

#include <string>

namespace codefleet {

// Escapes <, >, & and " for element text and attribute values.
std::string html_escape(const std::string& s);

}  // namespace codefleet
