// Length limits on the free-text fields of the daemon's HTTP API, checked before anything
// is stored: a longer value answers 400 naming the field. The task JSON's own limits
// (`id`, `tenant`, `class`, `environment`, `deadline`) are in workload/task.h; docs/API.md
// and docs/openapi.json (`maxLength`) list them all.
//
//   if (message.size() > kMaxEventMessageBytes) → 400, field "message"
//   if (utf8_chars(name) > kMaxKeyNameChars)    → 400, field "name"
#pragma once

#include <cstddef>
#include <string_view>

namespace codefleet {

// A worker event's `message` (POST /v1/tasks/{id}/events), in bytes.
inline constexpr size_t kMaxEventMessageBytes = 4096;
// An API key's `name` (POST /v1/keys), in characters (Unicode code points).
inline constexpr size_t kMaxKeyNameChars = 256;
// A money string sent to the daemon (`llm.budget_usd_month`), in bytes.
inline constexpr size_t kMaxMoneyTextBytes = 32;
// A gateway request's `model` or `X-CodeFleet-Class` (a workload class name), in bytes.
inline constexpr size_t kMaxModelNameBytes = 256;

// Characters (code points) in UTF-8 text: the bytes that do not continue a sequence.
// The JSON parser has already refused text that is not UTF-8.
inline size_t utf8_chars(std::string_view text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace codefleet
