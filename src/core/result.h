// Result<T> and Error: how every module boundary reports failure.
//
// Error codes separate what will never work (`kInfeasible`, `kInvalidInput`,
// `kNotFound`) from what may work later (`kUnavailable`). Callers retry only
// when `error.retryable()` is true.
//
//   Result<Money> price = catalog.price("Standard_D4s_v5", "eastus", PriceType::kPayg);
//   if (!price) return tl::unexpected(price.error());
#pragma once

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace codefleet {

enum class ErrorCode {
  kInvalidInput,  // bad input: a spec, a file, a request body. Fix the input.
  kNotFound,      // the named thing does not exist (file, SKU, price).
  kInfeasible,    // well-formed but can never succeed (SKU too small, over the hard quota).
  kUnavailable,   // may succeed later (quota in use, throttled, no capacity now).
  kInternal,      // a bug or an environment failure (I/O error).
};

const char* error_code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  // Where the problem is, when known: "file:line:col" or a field path.
  std::string location;

  bool retryable() const { return code == ErrorCode::kUnavailable; }
  // "location: message", or just the message when there is no location.
  std::string describe() const;
};

template <typename T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> make_error(ErrorCode code, std::string message,
                                        std::string location = {}) {
  return tl::unexpected<Error>(Error{code, std::move(message), std::move(location)});
}

}  // namespace codefleet
