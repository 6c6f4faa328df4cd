// Money: an exact amount of US dollars held as int64 micro-USD (1 USD = 1'000'000).
//
// There is deliberately no constructor from `double`: amounts come from decimal
// text (`Money::parse("6.98")`) or from integers. Rounding rule, used everywhere a
// division happens (`mul_div`): round half away from zero, to the micro-dollar.
//
// Decimal text past the micro-dollar: `parse` rounds it the same way (half away from
// zero: "0.00000051" is 1 µ$, "0.00000049" is 0), for prices and costs read from Azure,
// which carry more decimals; `parse_exact` refuses it, for amounts a person writes into a
// ledger (an API key's budget), where a silent rounding would be a surprise.
//
//   Money hourly = *Money::parse("6.98");
//   Money month = hourly.mul_div(730, 1);        // 730 hours
//   fmt::print("{}", month.to_string(2));       // "5095.40"
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace codefleet {

// 128-bit intermediates for exact products of money and rates (a GCC/Clang extension).
__extension__ typedef __int128 Int128;

class Money {
 public:
  static constexpr int64_t kMicrosPerUsd = 1'000'000;

  constexpr Money() = default;
  static constexpr Money from_micros(int64_t micros) { return Money(micros); }
  static constexpr Money from_usd(int64_t usd) { return Money(usd * kMicrosPerUsd); }
  // Parses "12", "12.5", "-0.000001", "$4.50", "1,234.56". More than six decimals
  // is rounded half away from zero; anything else is an error: a `$` anywhere but first
  // (after an optional sign), a comma that does not separate groups of three digits
  // before the point ("4,50" is not 450), exponents, a second point or sign.
  static Result<Money> parse(std::string_view text);
  // As `parse`, but a non-zero digit past the sixth decimal is an error (kInvalidInput)
  // instead of being rounded: "0.00000051" is refused, "0.5000000" is $0.50.
  static Result<Money> parse_exact(std::string_view text);

  constexpr int64_t micros() const { return micros_; }
  // Exact decimal text with the trailing zeros trimmed ("6.98", "0.1", "12").
  std::string to_string() const;
  // Rounded to `decimals` places (half away from zero), e.g. to_string(2) == "5095.40".
  std::string to_string(int decimals) const;
  // For display and JSON output only; never feed this back into a ledger.
  double to_double_for_display() const { return static_cast<double>(micros_) / kMicrosPerUsd; }

  // this * num / den with a 128-bit intermediate, rounded half away from zero. `den`
  // may be negative (the signs are moved to the numerator); 0 is a programming error and
  // aborts with a message rather than return a made-up amount.
  Money mul_div(int64_t num, int64_t den) const;

  constexpr Money operator+(Money o) const { return Money(micros_ + o.micros_); }
  constexpr Money operator-(Money o) const { return Money(micros_ - o.micros_); }
  constexpr Money operator*(int64_t k) const { return Money(micros_ * k); }
  constexpr Money& operator+=(Money o) {
    micros_ += o.micros_;
    return *this;
  }
  constexpr Money& operator-=(Money o) {
    micros_ -= o.micros_;
    return *this;
  }
  constexpr auto operator<=>(const Money&) const = default;

 private:
  constexpr explicit Money(int64_t micros) : micros_(micros) {}
  int64_t micros_ = 0;
};

// Parses decimal text ("218.75", "0.1667") and returns value × scale, rounded half away
// from zero: parse_scaled_decimal("218.75", 1024) == 224000 (GiB → MiB). A `$` or a
// scale that is not positive is an error.
Result<int64_t> parse_scaled_decimal(std::string_view text, int64_t scale);

// Rounds num/den half away from zero. A negative `den` counts as its sign on `num`
// (5 / -2 == -3); den == 0 aborts (no amount is right). Used by `Money` and any integer rate.
int64_t div_round_half_away(Int128 num, int64_t den);

}  // namespace codefleet
