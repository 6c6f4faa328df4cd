// Small text helpers shared by parsers: case-insensitive compare, edit distance
// for "did you mean" suggestions, splitting and trimming.
//
//   closest_match("min_node", {"min_nodes", "max_nodes"});  // "min_nodes"
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace codefleet {

std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
bool icontains(std::string_view haystack, std::string_view needle);
size_t edit_distance(std::string_view a, std::string_view b);
// The candidate nearest to `word` (case-insensitive edit distance), or "" when none is
// close enough to be a plausible typo (distance > max(2, len/3)).
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);
std::string_view trim(std::string_view s);
std::vector<std::string> split(std::string_view s, char sep);
// `text` (trimmed) as a whole number within [min, max]: digits with an optional '-', no
// separators, no exponent. The error says what is wrong with the value, not where it is
// ("'1,000' is not a whole number", "…is out of range (0 to 100000000)"); callers add that.
Result<int64_t> parse_whole_number(std::string_view text, int64_t min, int64_t max);
// `text` without a leading UTF-8 byte order mark (spreadsheets write one).
std::string_view without_utf8_bom(std::string_view text);

// True when JSON `text` nests arrays and objects deeper than `max_depth` (strings are
// skipped). Checked before parsing a request body: a parser may take any depth, but code
// that walks the result recursively must not.
bool json_nesting_exceeds(std::string_view text, int max_depth);

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).
bool is_valid_utf8(std::string_view text);

// `text` as a JSON string literal, quotes included (for hand-built JSON log lines).
std::string json_quote(std::string_view text);
// A base URL without its trailing slashes: "https://x/" → "https://x".
std::string without_trailing_slashes(std::string url);

}  // namespace codefleet
