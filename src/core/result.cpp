#include "core/result.h"

namespace codefleet {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidInput:
      return "invalid-input";
    case ErrorCode::kNotFound:
      return "not-found";
    case ErrorCode::kInfeasible:
      return "infeasible";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

std::string Error::describe() const {
  if (location.empty()) return message;
  return location + ": " + message;
}

}  // namespace codefleet
