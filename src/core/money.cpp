#include "core/money.h"

#include <cstdlib>

namespace codefleet {

int64_t div_round_half_away(Int128 num, int64_t den) {
  bool negative = num < 0;
  Int128 abs_num = negative ? -num : num;
  Int128 q = (abs_num + den / 2) / den;
  return static_cast<int64_t>(negative ? -q : q);
}

Result<Money> Money::parse(std::string_view text) {
  std::string_view s = text;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  auto bad = [&]() {
    return make_error(ErrorCode::kInvalidInput,
                      "'" + std::string(text) + "' is not an amount of USD (expected e.g. 4.50)");
  };
  if (s.empty()) return bad();
  bool negative = false;
  if (s.front() == '-' || s.front() == '+') {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (!s.empty() && s.front() == '$') s.remove_prefix(1);
  Int128 whole = 0;
  int64_t frac_micros = 0;
  int frac_digits = 0;
  bool seen_digit = false, seen_point = false, round_up = false;
  for (char c : s) {
    if (c == ',' && !seen_point) continue;
    if (c == '.') {
      if (seen_point) return bad();
      seen_point = true;
      continue;
    }
    if (c < '0' || c > '9') return bad();
    seen_digit = true;
    int d = c - '0';
    if (!seen_point) {
      whole = whole * 10 + d;
      if (whole > INT64_MAX / kMicrosPerUsd) {
        return make_error(ErrorCode::kInvalidInput,
                          "amount '" + std::string(text) + "' is too large");
      }
    } else if (frac_digits < 6) {
      frac_micros = frac_micros * 10 + d;
      ++frac_digits;
    } else if (frac_digits == 6) {
      round_up = d >= 5;
      ++frac_digits;
    }
  }
  if (!seen_digit) return bad();
  for (int i = std::min(frac_digits, 6); i < 6; ++i) frac_micros *= 10;
  Int128 micros = static_cast<Int128>(whole) * kMicrosPerUsd + frac_micros + (round_up ? 1 : 0);
  if (micros > INT64_MAX) {
    return make_error(ErrorCode::kInvalidInput, "amount '" + std::string(text) + "' is too large");
  }
  int64_t m = static_cast<int64_t>(micros);
  return Money(negative ? -m : m);
}

Result<int64_t> parse_scaled_decimal(std::string_view text, int64_t scale) {
  auto m = Money::parse(text);
  if (!m || text.find('$') != std::string_view::npos) {
    return make_error(ErrorCode::kInvalidInput, "'" + std::string(text) + "' is not a number");
  }
  return div_round_half_away(static_cast<Int128>(m->micros()) * scale, Money::kMicrosPerUsd);
}

std::string Money::to_string() const {
  std::string out = to_string(6);
  if (out.find('.') != std::string::npos) {
    while (out.back() == '0') out.pop_back();
    if (out.back() == '.') out.pop_back();
  }
  return out;
}

std::string Money::to_string(int decimals) const {
  if (decimals < 0) decimals = 0;
  if (decimals > 6) decimals = 6;
  int64_t scale = 1;
  for (int i = decimals; i < 6; ++i) scale *= 10;
  int64_t v = div_round_half_away(micros_, scale);
  bool negative = v < 0;
  uint64_t a = negative ? static_cast<uint64_t>(-(v + 1)) + 1 : static_cast<uint64_t>(v);
  uint64_t unit = 1;
  for (int i = 0; i < decimals; ++i) unit *= 10;
  std::string out = std::to_string(a / unit);
  if (decimals > 0) {
    std::string frac = std::to_string(a % unit);
    out += '.' + std::string(decimals - frac.size(), '0') + frac;
  }
  return negative ? "-" + out : out;
}

Money Money::mul_div(int64_t num, int64_t den) const {
  if (den < 0) {
    num = -num;
    den = -den;
  }
  return Money(div_round_half_away(static_cast<Int128>(micros_) * num, den));
}

}  // namespace codefleet
