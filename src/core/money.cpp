#include "core/money.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>

namespace codefleet {

int64_t div_round_half_away(Int128 num, int64_t den) {
  if (den == 0) {
    std::fprintf(stderr, "div_round_half_away: division by zero\n");
    std::abort();
  }
  Int128 d = den;
  if (d < 0) {
    num = -num;
    d = -d;
  }
  bool negative = num < 0;
  Int128 abs_num = negative ? -num : num;
  Int128 q = (abs_num + d / 2) / d;
  return static_cast<int64_t>(negative ? -q : q);
}

namespace {

// Decimal text split into its parts; the digits past the sixth decimal only as the
// rounding (the seventh) and whether any of them is not zero.
struct Decimal {
  bool negative = false;
  Int128 whole = 0;
  int64_t frac_micros = 0;     // the first six decimals, in micro-units
  bool round_up = false;       // the seventh decimal is 5 or more
  bool beyond_micros = false;  // a non-zero digit past the sixth decimal
};

// Commas separate groups of three digits before the point ("1,234,567.5"); the first group
// has one to three.
struct Grouping {
  bool seen_comma = false;
  int run = 0;  // digits since the last comma (or the start)
  bool comma() {
    bool ok = run > 0 && (seen_comma ? run == 3 : run <= 3);
    seen_comma = true;
    run = 0;
    return ok;
  }
  bool end() const { return !seen_comma || run == 3; }
};

std::optional<Decimal> read_decimal(std::string_view s, bool& too_large) {
  Decimal out;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    out.negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (!s.empty() && s.front() == '$') s.remove_prefix(1);
  int frac_digits = 0;
  bool seen_digit = false, seen_point = false;
  Grouping groups;
  for (char c : s) {
    if (c == ',') {
      if (seen_point || !groups.comma()) return std::nullopt;
      continue;
    }
    if (c == '.') {
      if (seen_point || !groups.end()) return std::nullopt;
      seen_point = true;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    seen_digit = true;
    int d = c - '0';
    if (!seen_point) {
      ++groups.run;
      out.whole = out.whole * 10 + d;
      if (out.whole > INT64_MAX / Money::kMicrosPerUsd) {
        too_large = true;
        return std::nullopt;
      }
    } else if (frac_digits < 6) {
      out.frac_micros = out.frac_micros * 10 + d;
      ++frac_digits;
    } else {
      if (frac_digits++ == 6) out.round_up = d >= 5;
      out.beyond_micros = out.beyond_micros || d != 0;
    }
  }
  if (!seen_digit || (!seen_point && !groups.end())) return std::nullopt;
  for (int i = std::min(frac_digits, 6); i < 6; ++i) out.frac_micros *= 10;
  return out;
}

Result<Money> parse_money(std::string_view text, bool exact) {
  std::string_view s = text;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  std::string shown(text.substr(0, 64));
  auto large = [&] {
    return make_error(ErrorCode::kInvalidInput, "amount '" + shown + "' is too large");
  };
  bool too_large = false;
  auto d = read_decimal(s, too_large);
  if (too_large) return large();
  if (!d) {
    return make_error(ErrorCode::kInvalidInput,
                      "'" + shown + "' is not an amount of USD (expected e.g. 4.50)");
  }
  if (exact && d->beyond_micros) {
    return make_error(ErrorCode::kInvalidInput,
                      "'" + shown +
                          "' has more than 6 decimals: amounts are exact to the micro-dollar "
                          "($0.000001)");
  }
  Int128 micros = d->whole * Money::kMicrosPerUsd + d->frac_micros + (d->round_up ? 1 : 0);
  if (micros > INT64_MAX) return large();
  auto m = static_cast<int64_t>(micros);
  return Money::from_micros(d->negative ? -m : m);
}

}  // namespace

Result<Money> Money::parse(std::string_view text) { return parse_money(text, false); }

Result<Money> Money::parse_exact(std::string_view text) { return parse_money(text, true); }

Result<int64_t> parse_scaled_decimal(std::string_view text, int64_t scale) {
  auto m = Money::parse(text);
  if (!m || scale <= 0 || text.find('$') != std::string_view::npos) {
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
  return Money(div_round_half_away(static_cast<Int128>(micros_) * num, den));
}

}  // namespace codefleet
